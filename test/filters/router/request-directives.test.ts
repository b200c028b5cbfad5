/**
 * The x-envoy-* request headers an internal caller steers the router with (Envoy's router:
 * x-envoy-upstream-rq-timeout-ms, -per-try-timeout-ms, -timeout-alt-response, x-envoy-retry-on,
 * -retry-grpc-on, -max-retries, -retriable-status-codes; `respect_expected_rq_timeout`), on the
 * filter harness (no connection manager in front: these requests count as internal ones). Each is
 * consumed: the upstream never sees it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryPolicy, routerHarness, settledViolations, withHarness } from './fixtures';

const CONSUMED = [
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-retriable-status-codes',
];

test('x-envoy-upstream-rq-timeout-ms replaces the route timeout; an unreadable one leaves it', () => {
  for (const [value, effective] of [
    ['400', 400],
    ['0400', 400],
    ['abc', 1000],
    ['-5', 1000],
  ] as const) {
    withHarness(routerHarness('timeout: 1s'), (h) => {
      const s = h.stream();
      s.request({ headers: { 'x-envoy-upstream-rq-timeout-ms': value } });
      const up = h.upstreams.next().attach();
      assert.equal(up.requestHead!.headers.get('x-envoy-expected-rq-timeout-ms'), String(effective), value);
      assert.equal(up.requestHead!.headers.has('x-envoy-upstream-rq-timeout-ms'), false, value);
      h.time.advance(effective - 1);
      assert.equal(s.response, null, value);
      h.time.advance(1);
      assert.equal(s.status, 504, value);
      assert.deepEqual(s.flags, ['UT']);
    });
  }
});

test('x-envoy-upstream-rq-timeout-ms: 0 means no timeout', () => {
  withHarness(routerHarness('timeout: 1s'), (h) => {
    const s = h.stream();
    s.request({ headers: { 'x-envoy-upstream-rq-timeout-ms': '0' } });
    const up = h.upstreams.next().attach();
    assert.equal(up.requestHead!.headers.has('x-envoy-expected-rq-timeout-ms'), false);
    h.time.advance(60_000);
    assert.equal(s.response, null);
    up.respond({ status: 200 });
    assert.equal(s.status, 200);
  });
});

test('x-envoy-upstream-rq-timeout-alt-response: the global timeout answers an empty 204', () => {
  withHarness(routerHarness('timeout: 1s'), (h) => {
    const s = h.stream();
    s.request({ headers: { 'x-envoy-upstream-rq-timeout-alt-response': '' } });
    h.upstreams.next().attach();
    h.time.advance(1000);
    assert.equal(s.status, 204);
    assert.equal(s.body.toString(), '');
    assert.deepEqual(s.flags, ['UT']);
  });
});

test('x-envoy-upstream-rq-per-try-timeout-ms: each attempt gets that long, and the expected timeout says so', () => {
  withHarness(routerHarness(`timeout: 1s\n${retryPolicy('5xx', 'num_retries: 2')}`), (h) => {
    const s = h.stream();
    s.request({ headers: { 'x-envoy-upstream-rq-per-try-timeout-ms': '100' } });
    const first = h.upstreams.next().attach();
    assert.equal(first.requestHead!.headers.get('x-envoy-expected-rq-timeout-ms'), '100');
    h.time.advance(100);
    assert.equal(first.state, 'reset-by-router');
    assert.equal(h.stat('cluster.o.upstream_rq_per_try_timeout'), 1);
    h.time.advance(50); // the back-off (under 25 ms for a first retry, on the timer wheel's ticks)
    h.upstreams.next().attach().respond({ status: 200 });
    assert.equal(s.status, 200);
    assert.deepEqual(settledViolations(h), []);
  });
});

test('a per-try timeout not shorter than the global one is none', () => {
  withHarness(routerHarness(`timeout: 1s\n${retryPolicy('5xx', 'per_try_timeout: 2s')}`), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next().attach();
    assert.equal(up.requestHead!.headers.get('x-envoy-expected-rq-timeout-ms'), '1000');
    h.time.advance(1000);
    assert.equal(h.stat('cluster.o.upstream_rq_per_try_timeout'), 0);
    assert.equal(s.status, 504);
  });
});

/** [case, route retry policy ('' = none), request headers, upstream statuses in order, final status] */
const RETRY_CASES: [string, string, Record<string, string>, number[], number][] = [
  [
    'x-envoy-retry-on without a route policy retries once',
    '',
    { 'x-envoy-retry-on': '5xx' },
    [503, 200],
    200,
  ],
  ['… and only once by default', '', { 'x-envoy-retry-on': '5xx' }, [503, 503], 503],
  [
    'x-envoy-max-retries raises it',
    '',
    { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '2' },
    [503, 503, 200],
    200,
  ],
  [
    'x-envoy-max-retries replaces the route num_retries',
    retryPolicy('5xx', 'num_retries: 3'),
    { 'x-envoy-max-retries': '0' },
    [503],
    503,
  ],
  ['x-envoy-max-retries alone does not retry', '', { 'x-envoy-max-retries': '3' }, [503], 503],
  ['unknown tokens are ignored', '', { 'x-envoy-retry-on': 'sometimes, 5xx-ish' }, [503], 503],
  ['gRPC conditions are not x-envoy-retry-on tokens', '', { 'x-envoy-retry-on': 'unavailable' }, [503], 503],
  [
    'the header adds to the route conditions',
    retryPolicy('connect-failure'),
    { 'x-envoy-retry-on': 'gateway-error' },
    [502, 200],
    200,
  ],
  [
    'x-envoy-retriable-status-codes with retriable-status-codes',
    '',
    { 'x-envoy-retry-on': 'retriable-status-codes', 'x-envoy-retriable-status-codes': '418, 409' },
    [418, 409],
    409,
  ],
  [
    'x-envoy-retriable-status-codes adds to the route codes',
    retryPolicy('retriable-status-codes', 'num_retries: 2, retriable_status_codes: [429]'),
    { 'x-envoy-retriable-status-codes': '418' },
    [429, 418, 200],
    200,
  ],
];

for (const [name, policy, headers, statuses, final] of RETRY_CASES) {
  test(`retry headers: ${name}`, () => {
    withHarness(routerHarness(policy), (h) => {
      const s = h.stream();
      s.request({ headers });
      for (const status of statuses) {
        h.time.advance(1000); // past any back-off
        const up = h.upstreams.next().attach();
        for (const field of CONSUMED) assert.equal(up.requestHead!.headers.has(field), false, field);
        up.respond({ status });
      }
      h.time.advance(1000);
      assert.equal(h.upstreams.waiting(), 0, 'no further attempt');
      assert.equal(s.status, final);
      assert.equal(h.stat('cluster.o.upstream_rq_retry'), statuses.length - 1);
      assert.deepEqual(settledViolations(h), []);
    });
  });
}

test('x-envoy-retry-grpc-on retries a trailers-only gRPC status', () => {
  withHarness(routerHarness(), (h) => {
    const s = h.stream();
    s.request({ headers: { 'content-type': 'application/grpc', 'x-envoy-retry-grpc-on': 'unavailable' } });
    h.upstreams
      .next()
      .attach()
      .respond({ status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': '14' } });
    h.time.advance(1000);
    h.upstreams
      .next()
      .attach()
      .respond({ status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': '0' } });
    assert.equal(s.status, 200);
    assert.equal(h.stat('cluster.o.upstream_rq_retry'), 1);
  });
});

test('respect_expected_rq_timeout: an egress proxy’s x-envoy-expected-rq-timeout-ms is the timeout', () => {
  for (const respect of [true, false]) {
    withHarness(
      routerHarness('timeout: 1s', { routerConfig: `respect_expected_rq_timeout: ${respect}` }),
      (h) => {
        const s = h.stream();
        s.request({
          headers: { 'x-envoy-expected-rq-timeout-ms': '300', 'x-envoy-upstream-rq-timeout-ms': '700' },
        });
        const up = h.upstreams.next().attach();
        const effective = respect ? 300 : 700;
        assert.equal(up.requestHead!.headers.get('x-envoy-expected-rq-timeout-ms'), String(effective));
        h.time.advance(effective - 1);
        assert.equal(s.response, null, `respect ${respect}`);
        h.time.advance(1);
        assert.equal(s.status, 504, `respect ${respect}`);
      },
    );
  }
});
