/**
 * The coordinated-omission check: an origin that stalls 200 ms once a second. A constant-rate run
 * measures from intended send times, so every request scheduled during a stall carries its wait and
 * the stall dominates the tail. A closed-loop run only ever has `c` requests caught in a stall and
 * then simply sends fewer, so its p99 stays small. If the CO correction broke (latency measured from
 * the actual send), the constant-rate p99 would collapse to the closed-loop one and this test fails.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseBenchArgs } from '../../src/bench/options';
import { startOrigin, type Origin } from '../../src/bench/origin';
import { runBench } from '../../src/bench/run';

let origin: Origin;

before(async () => {
  origin = await startOrigin({ stall: { everyMs: 1000, forMs: 200 } });
});
after(() => origin.close());

const RUN = ['-c', '4', '-d', '2500ms', '--timeout', '2s', '--no-progress'];

test('constant-rate percentiles show an injected stall; closed-loop ones hide it', async () => {
  const url = `http://127.0.0.1:${origin.port}/`;
  const closed = (await runBench(parseBenchArgs([url, ...RUN]))).result;
  // A run whose generator fell behind its schedule (send lag p99 over 5 ms: a machine busy with
  // other work) measures nothing about the correction; it is run again, up to three times.
  let rate = (await runBench(parseBenchArgs([url, ...RUN, '-R', '400']))).result;
  for (let retry = 0; retry < 2 && rate.schedule!.generatorBehind; retry++)
    rate = (await runBench(parseBenchArgs([url, ...RUN, '-R', '400']))).result;

  // The stall happened in both runs…
  assert.ok(closed.latency.max >= 100, `closed-loop max ${closed.latency.max} ms`);
  assert.ok(rate.latency.max >= 100, `constant-rate max ${rate.latency.max} ms`);
  // …but only the constant-rate run reports it in its percentiles: ~16 % of its requests were
  // scheduled inside a stall window.
  assert.ok(rate.latency.p99 >= 100, `constant-rate p99 ${rate.latency.p99} ms`);
  assert.ok(rate.latency.p90 >= 10, `constant-rate p90 ${rate.latency.p90} ms`);
  assert.ok(closed.latency.p99 < 50, `closed-loop p99 ${closed.latency.p99} ms`);
  assert.equal(rate.schedule!.generatorBehind, false, `send lag p99 ${rate.schedule!.lag.p99} ms in 3 runs`);
});
