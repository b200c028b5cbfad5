import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyErrorCounts } from '../../src/bench/error-counts';
import type { TimelineEntry } from '../../src/bench/timeline';
import { originRequestsPerSecond, summarizeFailover } from '../../bench/runner/failover-report';
import type { OriginWatch } from '../../bench/runner/origin-events';

/** A 10-second timeline with `errors[t]` non-2xx errors and p99 `p99[t]` ms. */
function timeline(errors: number[], p99: number[] = []): TimelineEntry[] {
  return Array.from({ length: 10 }, (_, t) => ({
    t,
    requests: 100,
    errors: { ...emptyErrorCounts(), non2xx: errors[t] ?? 0 },
    p50: 1,
    p99: p99[t] ?? 2,
  }));
}

const KILL_3S_RESTART_7S: OriginWatch['events'] = [
  { atMs: 3000, action: 'kill-origin', origin: 1, doneAtMs: 3010 },
  { atMs: 7000, action: 'start-origin', origin: 1, doneAtMs: 7200 },
];

test('origin counters become requests per second, across a kill and a restart', () => {
  const samples = [
    { atMs: 0, requests: [10, 20] },
    { atMs: 500, requests: [60, 70] },
    { atMs: 1100, requests: [110, null] }, // origin 1 killed
    { atMs: 1600, requests: [160, null] },
    { atMs: 2100, requests: [210, 5] }, // restarted: a new process counting from 0
    { atMs: 2600, requests: [260, 3] }, // restarted again in between: count went down
  ];
  assert.deepEqual(originRequestsPerSecond(samples, 3), [
    [50, 50],
    [100, 0],
    [100, 8],
  ]);
});

test('errors during the outage, when they stop, worst p99, and when the restarted origin serves again', () => {
  const watch: OriginWatch = {
    events: KILL_3S_RESTART_7S,
    samples: [
      { atMs: 7100, requests: [1, null, 1] },
      { atMs: 7350, requests: [2, 0, 2] }, // up, only health checks so far
      { atMs: 7600, requests: [3, 4, 3] }, // served
    ],
  };
  const f = summarizeFailover(timeline([0, 0, 1, 40, 7, 0, 0, 0, 2, 0], [0, 0, 0, 90, 30]), watch);
  assert.equal(f.killAtS, 3);
  assert.equal(f.restartAtS, 7);
  assert.equal(f.errorsTotal, 50);
  assert.equal(f.errorsDuringOutage, 47, 'seconds 3-6');
  assert.equal(f.errorsStopAfterS, 2, 'the last errors were in second 4, which ends 2 s after the kill');
  assert.equal(f.maxP99DuringOutage, 90);
  assert.ok(Math.abs(f.restartedTakesTrafficAfterS! - 0.4) < 1e-9);
  assert.deepEqual(f.seconds[3]!.errorKinds, 'non2xx 40');
  assert.equal(f.seconds.length, 10);
});

test('no errors at all is 0 s; errors up to the restart is null', () => {
  const none = summarizeFailover(timeline([]), { events: KILL_3S_RESTART_7S, samples: [] });
  assert.equal(none.errorsStopAfterS, 0);
  assert.equal(none.restartedTakesTrafficAfterS, null, 'never seen serving');
  const endless = summarizeFailover(timeline([0, 0, 0, 5, 5, 5, 5]), {
    events: KILL_3S_RESTART_7S,
    samples: [],
  });
  assert.equal(endless.errorsStopAfterS, null);
  assert.equal(endless.errorsDuringOutage, 20);
});

test('a failed kill is no outage', () => {
  const f = summarizeFailover(timeline([0, 0, 0, 5]), {
    events: [{ ...KILL_3S_RESTART_7S[0]!, error: 'no such process' }],
    samples: [],
  });
  assert.equal(f.killAtS, null);
  assert.equal(f.errorsDuringOutage, 0);
  assert.equal(f.errorsTotal, 5);
});
