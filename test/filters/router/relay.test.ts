/**
 * What the router relays when it does not retry, on the in-process harness: the response's bytes
 * reach the client exactly, in the pieces they came in; framing, hop-by-hop and Envoy headers;
 * 100-continue; flow control both ways; the end of the stream from either side.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FilterHarness, HarnessStream } from '../harness/filter-harness';
import type { FakeUpstreamStream } from '../harness/fake-upstream';
import { routerHarness, settledViolations, withHarness } from './fixtures';

/** Deterministic bytes (a test that only used one byte value could not see reordering). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const PIECES: Record<string, number[]> = {
  'one byte': [1],
  'one piece of 16 KiB - 1': [16 * 1024 - 1],
  'one piece of 16 KiB': [16 * 1024],
  'one piece of 16 KiB + 1': [16 * 1024 + 1],
  '64 KiB': [64 * 1024],
  '1 MiB in 64 KiB pieces': Array<number>(16).fill(64 * 1024),
  'many small pieces': Array.from({ length: 200 }, (_, i) => 1 + (i % 7)),
};

test('a relayed body reaches the client byte for byte, in the same pieces, with and without a retry policy', () => {
  for (const routeExtra of ['', 'retry_policy: { retry_on: "5xx,reset", num_retries: 2 }']) {
    withHarness(routerHarness(routeExtra), (h) => {
      for (const [name, sizes] of Object.entries(PIECES)) {
        for (const framing of ['content-length', 'chunked'] as const) {
          const s = h.stream();
          s.request();
          const up = h.upstreams.next().attach();
          const pieces = sizes.map((n, i) => pattern(n, i));
          const total = pieces.reduce((a, p) => a + p.length, 0);
          up.headers(
            200,
            framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(total) },
          );
          pieces.forEach((p, i) => up.data(p, framing === 'content-length' && i === pieces.length - 1));
          if (framing === 'chunked') up.data(Buffer.alloc(0), true);
          const label = `${name}, ${framing}, ${routeExtra === '' ? 'no retry policy' : 'retry policy'}`;
          assert.ok(s.body.equals(Buffer.concat(pieces)), label);
          const chunks = s.response!.chunks.filter((c) => c.length > 0);
          assert.deepEqual(
            chunks.map((c) => c.length),
            sizes,
            `${label}: relayed as it came, no re-buffering`,
          );
          assert.equal(s.response!.contentLength, framing === 'chunked' ? -1 : total, label);
          assert.equal(s.response!.ended, true, label);
          assert.deepEqual(settledViolations(h), [], label);
        }
      }
    });
  }
});

test('response headers: hop-by-hop fields dropped, x-envoy-upstream-service-time from the injected clock, others kept in order', () => {
  withHarness(routerHarness(), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next();
    h.time.advance(7); // waiting for a connection counts
    up.attach();
    h.time.advance(30);
    up.headers(200, [
      ['x-a', '1'],
      ['connection', 'keep-alive'],
      ['keep-alive', 'timeout=5'],
      ['transfer-encoding', 'chunked'],
      ['upgrade', 'h2c'],
      ['proxy-connection', 'x'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    up.data('x', false);
    up.data('', true);
    const headers = s.response!.head.headers;
    assert.deepEqual(
      headers.names.map((n, i) => `${n}: ${headers.values[i]}`),
      ['x-a: 1', 'set-cookie: a=1', 'set-cookie: b=2', 'x-envoy-upstream-service-time: 37'],
    );
  });
});

test('suppress_envoy_headers: no x-envoy-upstream-service-time and no x-envoy-expected-rq-timeout-ms', () => {
  withHarness(routerHarness('', { routerConfig: 'suppress_envoy_headers: true' }), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next().attach();
    assert.equal(up.requestHead!.headers.has('x-envoy-expected-rq-timeout-ms'), false);
    up.respond({ status: 200, body: 'ok' });
    assert.equal(s.response!.head.headers.has('x-envoy-upstream-service-time'), false);
  });
});

test('bodiless responses: HEAD keeps the upstream Content-Length for the codec; 204 and 304 end at the headers', () => {
  withHarness(routerHarness(), (h) => {
    const cases: { method: string; status: number; headers: Record<string, string>; cl: number }[] = [
      { method: 'HEAD', status: 200, headers: { 'content-length': '1234' }, cl: 1234 },
      { method: 'HEAD', status: 200, headers: { 'transfer-encoding': 'chunked' }, cl: -1 },
      { method: 'GET', status: 204, headers: {}, cl: -1 },
      { method: 'GET', status: 304, headers: { 'content-length': '99', etag: '"v1"' }, cl: 99 },
    ];
    for (const c of cases) {
      const s = h.stream();
      s.request({ method: c.method });
      h.upstreams.next().attach().headers(c.status, c.headers, true);
      const label = `${c.method} ${c.status} ${JSON.stringify(c.headers)}`;
      assert.equal(s.response!.headersOnly, true, label);
      assert.equal(s.response!.contentLength, c.cl, label);
      assert.equal(s.body.length, 0, label);
    }
    assert.deepEqual(settledViolations(h), []);
  });
});

test('trailers are relayed and end the response', () => {
  withHarness(routerHarness(), (h) => {
    const s = h.stream();
    s.request();
    h.upstreams
      .next()
      .attach()
      .respond({ status: 200, body: 'abc', framing: 'chunked', trailers: { 'grpc-status': '0' } });
    assert.equal(s.body.toString(), 'abc');
    assert.equal(s.response!.trailers!.get('grpc-status'), '0');
    assert.equal(s.response!.ended, true);
  });
});

test('100-continue from the upstream goes to the client once, before the response; not after', () => {
  withHarness(routerHarness(), (h) => {
    const s = h.stream();
    s.request({ method: 'POST', headers: { expect: '100-continue' }, bodyFollows: true, contentLength: 4 });
    const up = h.upstreams.next().attach();
    up.continue100();
    assert.equal(s.encode100ContinueCalls, 1);
    s.decodeData('data', true);
    assert.equal(up.requestBodyBytes.toString(), 'data');
    up.headers(200, { 'content-length': '2' });
    up.continue100(); // a stray 1xx after the final head
    assert.equal(s.encode100ContinueCalls, 1);
    up.data('ok', true);
    assert.equal(s.body.toString(), 'ok');
  });
});

/** A 6-byte upload half sent to an attached upstream whose socket just filled. */
function uploadBackedUp(h: FilterHarness): { s: HarnessStream; up: FakeUpstreamStream } {
  const s = h.stream();
  s.request({ method: 'POST', bodyFollows: true, contentLength: 6 });
  const up = h.upstreams.next().attach();
  s.decodeData('abc', false);
  up.writeWatermark(true);
  return { s, up };
}

test('flow control: a slow client pauses the upstream read; a slow upstream pauses the client upload, resumed when the attempt ends', () => {
  withHarness(routerHarness(), (h) => {
    const { s, up } = uploadBackedUp(h);
    assert.deepEqual(s.readDisableCalls, [true], 'upstream write buffer full: stop reading the client');
    up.writeWatermark(true);
    assert.deepEqual(s.readDisableCalls, [true], 'once per transition');
    up.writeWatermark(false);
    assert.deepEqual(s.readDisableCalls, [true, false]);
    s.decodeData('def', true);
    up.headers(200, { 'content-length': '4' });
    s.downstreamWatermark(true);
    s.downstreamWatermark(false);
    assert.deepEqual(
      up.readDisableCalls,
      [true, false],
      'client write buffer full: stop reading the upstream',
    );
    up.data('done', true);
  });
  withHarness(routerHarness(), (h) => {
    // Paused when the upstream fails: the client must not stay paused.
    const { s, up } = uploadBackedUp(h);
    up.reset('remote_reset');
    assert.deepEqual(s.readDisableCalls, [true, false]);
    assert.equal(s.localReplies[0]?.status, 503);
  });
});

test('the client goes away: the upstream attempt is reset and counted upstream_rq_tx_reset; a waiting pool request is cancelled', () => {
  withHarness(routerHarness(), (h) => {
    const s = h.stream();
    s.request();
    const up = h.upstreams.next().attach();
    up.headers(200, { 'content-length': '10' });
    up.data('12345');
    s.downstreamReset();
    assert.equal(up.state, 'reset-by-router');
    assert.equal(up.resetReason, 'local_reset');
    assert.equal(h.stat('cluster.o.upstream_rq_tx_reset'), 1);
    const waiting = h.stream();
    waiting.request();
    const pending = h.upstreams.next();
    waiting.downstreamReset();
    assert.equal(pending.state, 'cancelled');
    assert.deepEqual(settledViolations(h), []);
  });
});

test('a pool that attaches at once (an idle keep-alive connection) gets the request inside newStream', () => {
  withHarness(routerHarness('timeout: 1s'), (h) => {
    h.upstreams.idleConnection = { reused: true };
    const s = h.stream();
    s.request({ method: 'POST', body: 'now' });
    const up = h.upstreams.next();
    assert.equal(up.state, 'attached');
    assert.equal(up.requestBodyBytes.toString(), 'now');
    up.respond({ status: 200, body: 'ok' });
    assert.equal(s.body.toString(), 'ok');
    assert.deepEqual(settledViolations(h), []);
  });
});
