/**
 * End-to-end: the `legate bench` library against a local node:http origin on 127.0.0.1. The origin
 * counts what it received; the generator's counts must match exactly (nothing lost, nothing
 * invented), for each connection mode.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addErrorCounts, emptyErrorCounts } from '../../src/bench/error-counts';
import { parseBenchArgs } from '../../src/bench/options';
import { startOrigin, type Origin } from '../../src/bench/origin';
import { BenchTargetError, runBench, type BenchResult } from '../../src/bench/run';

let origin: Origin;

before(async () => {
  origin = await startOrigin({ bodyBytes: 13 });
});
after(() => origin.close());

async function bench(...args: string[]): Promise<{ result: BenchResult; received: number }> {
  const before = origin.requests;
  const { result } = await runBench(
    parseBenchArgs([`http://127.0.0.1:${origin.port}/`, '--no-progress', ...args]),
  );
  return { result, received: origin.requests - before };
}

/** The per-second timeline adds up to the run's totals, second by second in order. */
function assertTimelineSumsToTotals(result: BenchResult): void {
  const errors = emptyErrorCounts();
  let requests = 0;
  result.timeline.forEach((s, i) => {
    assert.equal(s.t, i);
    requests += s.requests;
    addErrorCounts(errors, s.errors);
    if (s.requests > 0) assert.ok(s.p50 > 0 && s.p50 <= s.p99, `second ${i}: p50 ${s.p50} p99 ${s.p99}`);
  });
  assert.equal(requests, result.requests, 'timeline requests sum to the total');
  assert.deepEqual(errors, result.errors, 'timeline errors sum to the totals');
}

function assertExactAndOrdered(result: BenchResult, received: number): void {
  assertTimelineSumsToTotals(result);
  assert.ok(result.requests > 0, 'some requests completed');
  assert.equal(result.requests, received, 'generator count == origin count');
  assert.equal(result.sent, received, 'every request sent was answered');
  assert.deepEqual(result.errors, { connect: 0, timeout: 0, reset: 0, non2xx: 0, parse: 0 });
  assert.deepEqual(result.statusCounts, { '200': result.requests });
  const l = result.latency;
  const order = [l.p50, l.p75, l.p90, l.p99, l['p99.9'], l['p99.99'], l.max];
  for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! <= order[i]!, `ordered: ${order}`);
  assert.ok(l.p50 > 0);
  assert.ok(result.bytesPerSec > 0);
}

test('closed loop, keep-alive, two threads: counts are exact', async () => {
  const { result, received } = await bench('-c', '6', '-t', '2', '-d', '800ms');
  assertExactAndOrdered(result, received);
  assert.equal(result.mode, 'closed-loop');
  assert.equal(result.schedule, null);
});

test('pipelined requests are all answered and counted', async () => {
  const { result, received } = await bench('-c', '2', '-p', '4', '-d', '600ms');
  assertExactAndOrdered(result, received);
});

test('one connection per request: counts are exact', async () => {
  const { result, received } = await bench('-c', '3', '--http1-close', '-d', '600ms');
  assertExactAndOrdered(result, received);
});

test('constant rate sends the scheduled number of requests', async () => {
  const { result, received } = await bench('-c', '5', '-t', '2', '-R', '500', '-d', '1s');
  assertExactAndOrdered(result, received);
  assert.equal(result.mode, 'constant-rate');
  const s = result.schedule!;
  assert.ok(s.scheduled >= 495 && s.scheduled <= 505, `scheduled ${s.scheduled}`);
  assert.ok(
    result.requests >= s.scheduled - 5 && result.requests <= s.scheduled,
    `requests ${result.requests}`,
  );
  // generatorBehind (lag p99 > 5 ms) is a property of the machine's load: on a busy 2-core box the
  // event loop alone stalls 10–100 ms; only a generator that is far off schedule fails here.
  assert.ok(s.lag.p99 < 250, `generator send lag p99 ${s.lag.p99} ms`);
  assert.equal(result.timeline.length, 1, 'a 1 s run has one second');
});

test('a target that dies mid-run: errors appear in the timeline from that second on, summing to the totals', async () => {
  const dying = await startOrigin();
  let closed: Promise<void> | undefined;
  const { result } = await runBench(
    parseBenchArgs([
      `http://127.0.0.1:${dying.port}/`,
      ...['-c', '4', '-R', '200', '-d', '2500ms', '--timeout', '500ms', '--no-progress'],
    ]),
    // The origin closes (resetting its connections, then refusing new ones) 1.2 s into the run.
    { onStart: (at) => void setTimeout(() => (closed = dying.close()), at - Date.now() + 1200) },
  );
  await closed;
  assertTimelineSumsToTotals(result);
  const t = result.timeline;
  assert.ok(t.length >= 3, `seconds: ${t.length}`);
  assert.ok(t[0]!.requests >= 190, `second 0 served: ${t[0]!.requests}`);
  assert.deepEqual(t[0]!.errors, emptyErrorCounts(), 'no errors before the origin closed');
  assert.ok(result.errors.connect > 0, `connect errors: ${JSON.stringify(result.errors)}`);
  assert.ok(t[2]!.errors.connect > 0, 'the origin stays down: connect errors in second 2');
  assert.ok(t[2]!.requests === 0, 'nothing completes once the origin is gone');
});

test('an unreachable target is a clear error before any load', async () => {
  const closed = await startOrigin();
  const port = closed.port;
  await closed.close();
  await assert.rejects(
    runBench(parseBenchArgs([`http://127.0.0.1:${port}/`, '-c', '2', '-d', '1s', '--no-progress'])),
    (err: Error) => err instanceof BenchTargetError && /ECONNREFUSED/.test(err.message),
  );
});
