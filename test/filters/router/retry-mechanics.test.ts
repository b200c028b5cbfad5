/**
 * How the router retries, on the in-process harness with simulated time: the back-off schedule,
 * the retry circuit breaker, replay of the request body, the one free retry after a stale pooled
 * connection, and the route's global timeout over every attempt.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FilterHarness } from '../harness/filter-harness';
import { retryPolicy, routerHarness, settledViolations, withHarness } from './fixtures';

/** Ms until the router asks for its next attempt (bounded by `limitMs`); -1 if it never does. */
function msUntilNextAttempt(h: FilterHarness, limitMs: number): number {
  for (let ms = 1; ms <= limitMs; ms++) {
    h.time.advance(1);
    if (h.upstreams.waiting() > 0) return ms;
  }
  return -1;
}

test('back-off: fully jittered, doubling from base_interval up to max_interval (as Envoy), on the injected clock', () => {
  // base 200 ms, max 300 ms: ceilings 200, 300, 300. With the random source at r the delay is
  // floor(r × ceiling), and the timer wheel fires on its next 50 ms tick at or after it.
  const cases: { r: number; delays: number[] }[] = [
    { r: 0.5, delays: [100, 150, 150] },
    { r: 0.999, delays: [199, 299, 299] },
    { r: 0, delays: [1, 1, 1] },
  ];
  for (const { r, delays } of cases) {
    withHarness(
      routerHarness(
        retryPolicy('5xx', 'num_retries: 3, retry_back_off: { base_interval: 0.2s, max_interval: 0.3s }'),
        { random: () => r },
      ),
      (h) => {
        const s = h.stream();
        s.request();
        for (const delay of delays) {
          h.time.advanceToNextTick(); // each failure lands on a tick, so the wheel's rounding is exact
          h.upstreams.next().attach().respond({ status: 503 });
          const waited = msUntilNextAttempt(h, 1000);
          const tick = Math.ceil(delay / 50) * 50;
          assert.equal(
            waited,
            tick,
            `r=${r}: retry after ${waited} ms, want the tick at or after ${delay} ms`,
          );
        }
        h.upstreams.next().attach().respond({ status: 200, body: 'ok' });
        assert.equal(s.body.toString(), 'ok');
        assert.equal(h.stat('cluster.o.upstream_rq_retry'), 3);
        assert.deepEqual(settledViolations(h), []);
      },
    );
  }
});

test('default back-off: base 25 ms, the first retry within 25 ms (one wheel tick)', () => {
  withHarness(routerHarness(retryPolicy('5xx'), { random: () => 0.96 }), (h) => {
    h.stream().request();
    h.upstreams.next().attach().respond({ status: 503 });
    assert.equal(msUntilNextAttempt(h, 1000), 50, 'floor(0.96 × 25) = 24 ms, on the tick at 50 ms');
  });
});

const ONE_RETRY_AT_A_TIME = `circuit_breakers: { thresholds: [{ max_retries: 1 }] }`;

test('retry circuit breaker: max_retries 1 lets one request retry at a time; the next is answered with UO, the unit comes back', () => {
  withHarness(routerHarness(retryPolicy('5xx'), { clusterExtra: ONE_RETRY_AT_A_TIME }), (h) => {
    const a = h.stream();
    a.request();
    const b = h.stream();
    b.request();
    h.upstreams.next().attach().respond({ status: 503, body: 'a busy' });
    h.upstreams.next().attach().respond({ status: 503, body: 'b busy' });
    // a's retry holds the only unit: b's 503 goes to the client as it is.
    assert.equal(b.status, 503);
    assert.equal(b.body.toString(), 'b busy');
    assert.deepEqual(b.flags, ['UO']);
    assert.equal(h.stat('cluster.o.upstream_rq_retry_overflow'), 1);
    h.time.advance(50);
    h.upstreams.next().attach().respond({ status: 200, body: 'a ok' });
    assert.equal(a.body.toString(), 'a ok');
    // The unit is back once a's retry had its outcome: c may retry.
    const c = h.stream();
    c.request();
    h.upstreams.next().attach().respond({ status: 503 });
    assert.equal(c.response, null, 'c is retrying');
    h.time.advance(50);
    h.upstreams.next().attach().respond({ status: 200, body: 'c ok' });
    assert.equal(c.body.toString(), 'c ok');
    assert.equal(h.stat('cluster.o.upstream_rq_retry_overflow'), 1);
    assert.deepEqual(settledViolations(h), []);
  });
});

test('retry circuit breaker: a request that ends during its back-off gives its unit back', () => {
  withHarness(
    routerHarness(retryPolicy('5xx', 'retry_back_off: { base_interval: 1s }'), {
      clusterExtra: ONE_RETRY_AT_A_TIME,
    }),
    (h) => {
      const a = h.stream();
      a.request();
      h.upstreams.next().attach().respond({ status: 503 });
      a.downstreamReset(); // the client left while the retry waited
      h.time.advance(5000);
      assert.equal(h.upstreams.waiting(), 0, 'no retry for a request that is gone');
      const b = h.stream();
      b.request();
      h.upstreams.next().attach().respond({ status: 503 });
      assert.equal(b.response, null, 'b got the unit');
      assert.equal(h.stat('cluster.o.upstream_rq_retry_overflow'), 0);
      h.time.advance(1000);
      h.upstreams.next().attach().respond({ status: 200 });
      assert.deepEqual(settledViolations(h), []);
    },
  );
});

/** Body pieces, and whether each arrives before or after the first attempt is attached. */
const UPLOADS: { name: string; chunked: boolean; before: string[]; after: string[] }[] = [
  { name: 'whole body before the connection is ready', chunked: false, before: ['hello world'], after: [] },
  { name: 'body in pieces before and after', chunked: false, before: ['hel', 'lo '], after: ['wor', 'ld'] },
  { name: 'whole body after', chunked: false, before: [], after: ['hello world'] },
  { name: 'chunked body in pieces', chunked: true, before: ['h', 'ello'], after: [' ', 'world'] },
  { name: 'chunked, one byte at a time', chunked: true, before: [], after: [...'hello world'] },
];

test('body replay: every retry gets the same request head and body bytes, however the body arrived', () => {
  for (const u of UPLOADS) {
    withHarness(routerHarness(retryPolicy('5xx', 'num_retries: 2')), (h) => {
      const s = h.stream();
      const total = [...u.before, ...u.after].join('');
      s.request({
        method: 'POST',
        path: '/upload',
        bodyFollows: true,
        chunked: u.chunked,
        contentLength: u.chunked ? undefined : total.length,
      });
      const pieces = [...u.before, ...u.after];
      pieces.forEach((p, i) => {
        if (i === u.before.length) h.upstreams.next().attach();
        s.decodeData(p, i === pieces.length - 1);
      });
      if (u.after.length === 0) h.upstreams.next().attach();
      const first = h.upstreams.streams[0]!;
      assert.equal(first.requestBodyBytes.toString(), total, `${u.name}: first attempt`);
      first.respond({ status: 503 });
      for (let attempt = 1; attempt <= 2; attempt++) {
        h.time.advance(200);
        const up = h.upstreams.next().attach();
        assert.equal(up.requestHead!.method, 'POST', u.name);
        assert.equal(
          up.requestContentLength,
          u.chunked ? -1 : total.length,
          `${u.name}: framing of attempt ${attempt + 1}`,
        );
        assert.equal(up.requestBodyBytes.toString(), total, `${u.name}: body of attempt ${attempt + 1}`);
        assert.equal(up.requestEnded, true, u.name);
        up.respond(attempt === 2 ? { status: 201, body: 'stored' } : { status: 503 });
      }
      assert.equal(s.status, 201, u.name);
      assert.deepEqual(settledViolations(h), [], u.name);
    });
  }
});

test('body replay: an upstream that answers before the upload ends is retried with what came so far, then the rest', () => {
  withHarness(routerHarness(retryPolicy('5xx')), (h) => {
    const s = h.stream();
    s.request({ method: 'PUT', bodyFollows: true, contentLength: 10 });
    s.decodeData('hello', false);
    const first = h.upstreams.next().attach();
    first.respond({ status: 503 }); // ends at its headers, before the request did
    assert.equal(first.reusable, false, 'the half-sent request makes the connection unusable');
    h.time.advance(50);
    const second = h.upstreams.next().attach();
    assert.equal(second.requestBodyBytes.toString(), 'hello');
    assert.equal(second.requestEnded, false);
    s.decodeData('world', true);
    assert.equal(second.requestBodyBytes.toString(), 'helloworld');
    second.respond({ status: 200, body: 'ok' });
    assert.equal(s.body.toString(), 'ok');
    assert.deepEqual(settledViolations(h), []);
  });
});

test('body replay: a body larger than per_connection_buffer_limit_bytes is not kept, so the 503 is not retried', () => {
  withHarness(
    routerHarness(retryPolicy('5xx'), { clusterExtra: 'per_connection_buffer_limit_bytes: 16' }),
    (h) => {
      const s = h.stream();
      s.request({ method: 'POST', bodyFollows: true, contentLength: 20 });
      h.upstreams.next().attach();
      s.decodeData('0123456789', false);
      s.decodeData('0123456789', true);
      h.upstreams.streams[0]!.respond({ status: 503, body: 'full' });
      assert.equal(s.status, 503);
      assert.equal(s.body.toString(), 'full');
      h.time.advance(1000);
      assert.equal(h.upstreams.waiting(), 0);
      assert.deepEqual(settledViolations(h), []);
    },
  );
});

test('stale pooled connection: a reused connection reset before any response byte is tried once more at once, without a retry policy', () => {
  for (const reason of ['connection_termination', 'remote_reset'] as const) {
    withHarness(routerHarness(), (h) => {
      const s = h.stream();
      s.request();
      h.upstreams.next().attach({ reused: true }).reset(reason);
      assert.equal(h.upstreams.waiting(), 1, `${reason}: a new attempt at once, no back-off`);
      h.upstreams.next().attach().respond({ status: 200, body: 'fresh' });
      assert.equal(s.body.toString(), 'fresh');
      assert.equal(h.stat('cluster.o.upstream_rq_retry'), 0, 'not a retry');
      assert.deepEqual(s.flags, []);
      assert.deepEqual(settledViolations(h), []);
    });
  }
});

test('stale pooled connection: not on a fresh connection, not twice, not after the response started, not with an unreplayable body', () => {
  const cases: { name: string; run: (h: FilterHarness) => void; status: number }[] = [
    {
      name: 'fresh connection',
      run: (h) => h.upstreams.next().attach({ reused: false }).reset('connection_termination'),
      status: 503,
    },
    {
      name: 'the second attempt is stale too',
      run: (h) => {
        h.upstreams.next().attach({ reused: true }).reset('connection_termination');
        h.upstreams.next().attach({ reused: true }).reset('connection_termination');
      },
      status: 503,
    },
    {
      name: 'reset after the response headers',
      run: (h) => {
        const up = h.upstreams.next().attach({ reused: true });
        up.headers(200, { 'content-length': '5' });
        up.reset('connection_termination');
      },
      status: 200,
    },
  ];
  for (const c of cases) {
    withHarness(routerHarness(), (h) => {
      const s = h.stream();
      s.request();
      c.run(h);
      assert.equal(h.upstreams.waiting(), 0, c.name);
      assert.equal(s.status, c.status, c.name);
      assert.deepEqual(settledViolations(h), [], c.name);
    });
  }
  withHarness(routerHarness(), (h) => {
    // Without a retry policy the body is not kept, so it cannot be sent again.
    const s = h.stream();
    s.request({ method: 'POST', body: 'data' });
    h.upstreams.next().attach({ reused: true }).reset('connection_termination');
    assert.equal(h.upstreams.waiting(), 0);
    assert.equal(s.status, 503);
  });
});

test('stale pooled connection with a retry policy: the body is replayed, and num_retries is still whole', () => {
  withHarness(routerHarness(retryPolicy('5xx')), (h) => {
    const s = h.stream();
    s.request({ method: 'POST', body: 'data' });
    h.upstreams.next().attach({ reused: true }).reset('connection_termination');
    const again = h.upstreams.next().attach();
    assert.equal(again.requestBodyBytes.toString(), 'data');
    again.respond({ status: 503 });
    h.time.advance(50);
    const retry = h.upstreams.next().attach();
    assert.equal(retry.requestBodyBytes.toString(), 'data');
    retry.respond({ status: 200, body: 'ok' });
    assert.equal(s.body.toString(), 'ok');
    assert.equal(h.stat('cluster.o.upstream_rq_retry'), 1);
  });
});

test('global timeout: 504 UT at the route timeout, the attempt reset, x-envoy-expected-rq-timeout-ms sent', () => {
  withHarness(routerHarness('timeout: 1s'), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next().attach();
    assert.equal(up.requestHead!.headers.get('x-envoy-expected-rq-timeout-ms'), '1000');
    h.time.advance(999);
    assert.equal(s.response, null);
    h.time.advance(1);
    assert.equal(s.localReplies[0]?.status, 504);
    assert.equal(s.body.toString(), 'upstream request timeout');
    assert.deepEqual(s.flags, ['UT']);
    assert.equal(up.state, 'reset-by-router');
    assert.equal(h.stat('cluster.o.upstream_rq_timeout'), 1);
    assert.deepEqual(settledViolations(h), []);
  });
});

test('global timeout covers every retry and the back-off between them', () => {
  withHarness(
    routerHarness(`timeout: 0.3s\n${retryPolicy('5xx', 'num_retries: 5, per_try_timeout: 1s')}`),
    (h) => {
      const s = h.stream();
      s.request();
      h.time.advance(100);
      h.upstreams.next().attach().respond({ status: 503 });
      h.time.advance(50);
      const second = h.upstreams.next().attach();
      h.time.advance(150); // 300 ms since the request: the route timeout, long before the per-try one
      assert.equal(s.localReplies[0]?.status, 504);
      assert.equal(second.state, 'reset-by-router');
      h.time.advance(2000);
      assert.equal(h.upstreams.waiting(), 0);
      assert.deepEqual(settledViolations(h), []);
    },
  );
  withHarness(
    routerHarness(`timeout: 0.3s\n${retryPolicy('5xx', 'retry_back_off: { base_interval: 2s }')}`),
    (h) => {
      const s = h.stream();
      s.request();
      h.upstreams.next().attach().respond({ status: 503 });
      h.time.advance(300); // the back-off (1 s) outlasts the route timeout
      assert.equal(s.localReplies[0]?.status, 504);
      h.time.advance(2000);
      assert.equal(h.upstreams.waiting(), 0, 'no retry after the request timed out');
      assert.deepEqual(settledViolations(h), []);
    },
  );
});

test('global timeout after the response started: the stream is reset (the client has a partial body), flag UT', () => {
  withHarness(routerHarness('timeout: 1s'), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next().attach();
    up.headers(200, { 'content-length': '100' });
    up.data('first part');
    h.time.advance(1000);
    assert.equal(s.resetStreamCalls, 1);
    assert.equal(s.body.toString(), 'first part');
    assert.deepEqual(s.flags, ['UT']);
    assert.equal(up.state, 'reset-by-router');
  });
});

test('timeout: 0s disables the route timeout', () => {
  withHarness(routerHarness('timeout: 0s'), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next().attach();
    assert.equal(up.requestHead!.headers.has('x-envoy-expected-rq-timeout-ms'), false);
    h.time.advance(600_000);
    up.respond({ status: 200, body: 'eventually' });
    assert.equal(s.body.toString(), 'eventually');
  });
});
