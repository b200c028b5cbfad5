import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyErrorCounts } from '../../src/bench/error-counts';
import { mergeTimelines, TimelineRecorder } from '../../src/bench/timeline';

const START = 5_000; // a thread's performance.now() at the run's start, in ms

test('responses land in the second of their intended time; errors by kind; one bucket per second of the run', () => {
  const r = new TimelineRecorder();
  r.recordError('connect', 10, 1); // before the run starts: second 0
  r.start(START, 3_000);
  r.recordResponse(START + 999.9, 1_000, false);
  r.recordResponse(START + 1_000, 2_000, true);
  r.recordError('timeout', START + 2_500, 3);
  r.recordError('reset', START + 1_200, 1);
  r.recordError('connect', START + 3_100, 2); // while draining: the last second
  const t = mergeTimelines([r.encode()]);
  assert.equal(t.length, 3);
  assert.deepEqual(
    t.map((s) => [s.t, s.requests]),
    [
      [0, 1],
      [1, 1],
      [2, 0],
    ],
  );
  assert.deepEqual(t[0]!.errors, { ...emptyErrorCounts(), connect: 1 });
  assert.deepEqual(t[1]!.errors, { ...emptyErrorCounts(), non2xx: 1, reset: 1 });
  assert.deepEqual(t[2]!.errors, { ...emptyErrorCounts(), timeout: 3, connect: 2 });
  // 2 significant digits: within 1 % of the recorded 1 ms and 2 ms.
  assert.ok(Math.abs(t[0]!.p50 - 1) < 0.01, `p50 ${t[0]!.p50}`);
  assert.ok(Math.abs(t[1]!.p99 - 2) < 0.02, `p99 ${t[1]!.p99}`);
  assert.equal(t[2]!.p99, 0, 'a second without responses has no latency');
});

test('merging threads equals recording everything in one timeline', () => {
  const one = new TimelineRecorder();
  const threads = [new TimelineRecorder(), new TimelineRecorder(), new TimelineRecorder()];
  one.start(START, 4_000);
  // Threads share the run's start instant, each in its own clock origin.
  threads.forEach((t, i) => t.start(START + i * 100, 4_000));
  let x = 7;
  for (let n = 0; n < 30_000; n++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const thread = n % 3 === 2 && n > 20_000 ? 1 : n % 3; // thread 2 stops early: fewer seconds
    const offset = (n / 30_000) * 4_000; // 4 seconds of run
    const latencyUs = 100 + (x % 1000 === 0 ? 250_000 : x % 5_000);
    const non2xx = x % 97 === 0;
    one.recordResponse(START + offset, latencyUs, non2xx);
    threads[thread]!.recordResponse(START + thread * 100 + offset, latencyUs, non2xx);
    if (x % 1009 === 0) {
      one.recordError('reset', START + offset, 1);
      threads[thread]!.recordError('reset', START + thread * 100 + offset, 1);
    }
  }
  const merged = mergeTimelines(threads.map((t) => t.encode()));
  const direct = mergeTimelines([one.encode()]);
  assert.equal(merged.length, 4);
  assert.ok(threads[2]!.encode().length < 4, 'one thread has fewer seconds');
  assert.deepEqual(merged, direct);
  assert.equal(
    merged.reduce((n, s) => n + s.requests, 0),
    30_000,
  );
  assert.ok(merged.every((s) => s.p99 > s.p50 && s.p50 > 0));
});

test('no threads, or threads that saw nothing, give an empty timeline', () => {
  assert.deepEqual(mergeTimelines([]), []);
  assert.deepEqual(mergeTimelines([new TimelineRecorder().encode()]), []);
});
