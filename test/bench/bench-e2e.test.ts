/**
 * End-to-end: the `legate bench` library against a local node:http origin on 127.0.0.1. The origin
 * counts what it received; the generator's counts must match exactly (nothing lost, nothing
 * invented), for each connection mode.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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

function assertExactAndOrdered(result: BenchResult, received: number): void {
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
  assert.equal(s.generatorBehind, false);
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
