/**
 * The detectors and ejection timing, against a real shared host table, with an injected clock and
 * enforcement roll, the recorder wired straight to the detector (as worker → primary messages do):
 * consecutive errors eject at once, rate detectors at the sweep; what overflows, and how a
 * flapping host's ejections grow (base × backoff, capped at max_ejection_time) and shrink again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutlierDetectionConfig } from '../../src/config/bootstrap';
import { HostColumn, HostTable } from '../../src/upstream/host-table';
import { OutlierRecorder } from '../../src/upstream/outlier/recorder';
import { ClusterOutlierDetector } from '../../src/upstream/outlier/detector';
import type { EjectionType } from '../../src/upstream/outlier/ejection-types';
import { clusterConfig, endpoint } from '../upstream/helpers';
import { outlierConfig } from './helpers';

/** Envoy's defaults, with short times, every host ejectable, and a cap of 3.5 base ejections. */
const DEFAULTS: OutlierDetectionConfig = {
  ...outlierConfig(),
  intervalMs: 100,
  baseEjectionTimeMs: 1000,
  maxEjectionTimeMs: 3500,
  maxEjectionPercent: 100,
};

function setup(overrides: Partial<OutlierDetectionConfig> = {}, hostCount = 4, random = () => 0.5) {
  const config = { ...DEFAULTS, ...overrides };
  const cluster = clusterConfig({
    endpoints: Array.from({ length: hostCount }, (_, i) => endpoint(`10.0.0.${i + 1}`, 80)),
  });
  const table = HostTable.allocate([cluster]);
  const clock = { now: 0 };
  const events = { detected: [] as EjectionType[], enforced: [] as EjectionType[], overflow: 0, active: 0 };
  const detector = new ClusterOutlierDetector(
    config,
    table,
    table.slotsOf('test')!,
    {
      nowMs: () => clock.now,
      random,
      events: {
        detected: (t) => events.detected.push(t),
        enforced: (t) => events.enforced.push(t),
        overflow: () => events.overflow++,
        activeChanged: (d) => (events.active += d),
      },
    },
    true,
  );
  const recorder = new OutlierRecorder(table, config, hostCount, (slot, type) =>
    detector.onThreshold(slot, type),
  );
  return {
    table,
    clock,
    events,
    detector,
    recorder,
    changes: () => table.healthGeneration(table.slotsOf('test')!),
  };
}

const ejected = (table: HostTable, slot: number): boolean => !table.isHostUsable(slot);

test('the fifth consecutive 5xx ejects the host at once; a success in the run resets it', () => {
  const { table, events, detector, recorder, changes } = setup();
  for (let i = 0; i < 4; i++) recorder.recordStatus(0, 500);
  recorder.recordStatus(0, 200);
  for (let i = 0; i < 4; i++) recorder.recordStatus(0, 500);
  detector.sweep();
  assert.equal(ejected(table, 0), false);
  assert.equal(table.get(0, HostColumn.Consecutive5xx), 4);
  recorder.recordStatus(0, 500);
  assert.equal(ejected(table, 0), true, 'no sweep needed');
  assert.deepEqual(events.enforced, ['consecutive_5xx']);
  assert.deepEqual(events.detected, ['consecutive_5xx']);
  assert.equal(events.active, 1);
  assert.equal(changes(), 1);
  assert.equal(table.get(0, HostColumn.Consecutive5xx), 0);
  for (const slot of [1, 2, 3]) assert.equal(ejected(table, slot), false);
});

test('gateway failures are detected but not enforced by default; they still count as 5xx', () => {
  const { table, events, recorder } = setup();
  for (let i = 0; i < 5; i++) recorder.recordStatus(1, 502);
  assert.deepEqual(events.detected, ['consecutive_gateway_failure', 'consecutive_5xx']);
  assert.deepEqual(events.enforced, ['consecutive_5xx']);
  assert.equal(ejected(table, 1), true);
});

test('enforcing_consecutive_gateway_failure 100 ejects on gateway failures', () => {
  const { events, recorder } = setup({
    enforcingConsecutiveGatewayFailure: 100,
    consecutive5xx: 0,
  });
  for (let i = 0; i < 5; i++) recorder.recordStatus(2, 503);
  assert.deepEqual(events.enforced, ['consecutive_gateway_failure']);
});

test('a 500 ends a gateway-failure run but extends the 5xx run', () => {
  const { table, recorder } = setup();
  recorder.recordStatus(0, 503);
  recorder.recordStatus(0, 500);
  assert.equal(table.get(0, HostColumn.ConsecutiveGatewayFailure), 0);
  assert.equal(table.get(0, HostColumn.Consecutive5xx), 2);
});

test('local-origin failures count as 503 unsplit, and on their own run when split', () => {
  const unsplit = setup();
  for (let i = 0; i < 5; i++) unsplit.recorder.recordLocalFailure(0, false);
  assert.deepEqual(unsplit.events.enforced, ['consecutive_5xx']);

  const split = setup({ splitExternalLocalOriginErrors: true });
  for (let i = 0; i < 4; i++) split.recorder.recordLocalFailure(0, false);
  split.recorder.recordStatus(0, 200);
  for (let i = 0; i < 5; i++) split.recorder.recordLocalFailure(0, true);
  assert.equal(split.table.get(0, HostColumn.Consecutive5xx), 0);
  assert.deepEqual(split.events.enforced, ['consecutive_local_origin_failure']);
});

test('max_ejection_percent: an ejection above it is an overflow, as in Envoy', () => {
  const { table, events, recorder } = setup({ maxEjectionPercent: 25 });
  for (const slot of [0, 1]) for (let i = 0; i < 5; i++) recorder.recordStatus(slot, 500);
  assert.equal(ejected(table, 0), true);
  assert.equal(ejected(table, 1), false);
  assert.equal(events.overflow, 1);
  // The default 10 % never ejects from a 4-host cluster (Envoy issue #3263).
  const small = setup({ maxEjectionPercent: 10 });
  for (let i = 0; i < 5; i++) small.recorder.recordStatus(0, 500);
  assert.equal(ejected(small.table, 0), false);
  assert.equal(small.events.overflow, 1);
});

test('a flapping host is ejected for longer each time, up to max_ejection_time', () => {
  const { table, clock, detector, recorder, events } = setup();
  const durations: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 5; i++) recorder.recordStatus(0, 500);
    assert.equal(ejected(table, 0), true, `round ${round}`);
    const ejectedAt = clock.now;
    // Errors from requests still in flight while ejected do not count toward the next ejection.
    recorder.recordStatus(0, 500);
    while (ejected(table, 0)) {
      clock.now += 50;
      detector.sweep();
      assert.ok(clock.now - ejectedAt <= 10_000, 'ejection never ended');
    }
    durations.push(clock.now - ejectedAt);
  }
  assert.deepEqual(durations, [1000, 2000, 3000, 3500, 3500]);
  assert.equal(events.active, 0);
  // Clean intervals after a return bring the backoff down again, one per interval.
  const before = detector.backoffOf(0);
  for (let i = 0; i < 3; i++) {
    clock.now += 100;
    detector.sweep();
  }
  assert.equal(detector.backoffOf(0), before - 3);
});

test('a threshold report for a host already ejected is ignored (in-flight errors)', () => {
  const { events, detector, recorder } = setup();
  for (let i = 0; i < 5; i++) recorder.recordStatus(0, 500);
  detector.onThreshold(0, 'consecutive_5xx');
  assert.deepEqual(events.detected, ['consecutive_5xx']);
  assert.equal(events.active, 1);
});

test('always_eject_one_host ejects one host even above max_ejection_percent, not two', () => {
  const { table, events, recorder } = setup({ maxEjectionPercent: 10, alwaysEjectOneHost: true });
  for (const slot of [0, 1]) for (let i = 0; i < 5; i++) recorder.recordStatus(slot, 500);
  assert.equal(ejected(table, 0), true);
  assert.equal(ejected(table, 1), false);
  assert.equal(events.overflow, 1);
});

test('max_ejection_time_jitter lengthens an ejection by a random share of it', () => {
  // Rolls: enforcement 0.5 (passes 100 %), then jitter 0.5 → floor(0.5 × 501) = 250 ms.
  const { table, clock, detector, recorder } = setup({ maxEjectionTimeJitterMs: 500 });
  for (let i = 0; i < 5; i++) recorder.recordStatus(0, 500);
  clock.now = 1249;
  detector.sweep();
  assert.equal(ejected(table, 0), true);
  clock.now = 1250;
  detector.sweep();
  assert.equal(ejected(table, 0), false);
});

test('a passed active health check returns an ejected host at once, unless disabled or failed', () => {
  const { table, events, detector, recorder, changes } = setup();
  for (let i = 0; i < 5; i++) recorder.recordStatus(0, 500);
  table.set(0, HostColumn.ActiveHcFailed, 1);
  detector.onActiveCheckPassed(0);
  assert.equal(table.get(0, HostColumn.OutlierEjected), 1, 'still failed by active checking');
  table.set(0, HostColumn.ActiveHcFailed, 0);
  const before = changes();
  detector.onActiveCheckPassed(0);
  assert.equal(ejected(table, 0), false);
  assert.equal(events.active, 0);
  assert.equal(changes(), before + 1);

  const off = setup({ successfulActiveHealthCheckUnejectHost: false });
  for (let i = 0; i < 5; i++) off.recorder.recordStatus(0, 500);
  off.detector.onActiveCheckPassed(0);
  assert.equal(ejected(off.table, 0), true);
});

/** `requests` responses to the host in `slot`, of which `failures` are 500. */
function traffic(recorder: OutlierRecorder, slot: number, requests: number, failures: number): void {
  // Interleaved, so no run of five 5xx forms.
  for (let i = 0; i < requests; i++) recorder.recordStatus(slot, i % 2 === 0 && i / 2 < failures ? 500 : 200);
}

test('success rate: the host far below the others is ejected at the sweep, and the counts restart', () => {
  const { table, events, detector, recorder } = setup({}, 5);
  for (const slot of [0, 1, 2, 3]) traffic(recorder, slot, 100, 0);
  traffic(recorder, 4, 100, 50);
  assert.equal(ejected(table, 4), false, 'rate detectors wait for the sweep');
  detector.sweep();
  assert.equal(ejected(table, 4), true);
  assert.deepEqual(events.enforced, ['success_rate']);
  // 50 % failures is below failure_percentage_threshold 85: success rate alone fired.
  assert.deepEqual(events.detected, ['success_rate']);
  for (const slot of [0, 1, 2, 3]) assert.equal(table.get(slot, HostColumn.OutlierRequests), 0);
  // What /clusters shows: {100, 100, 100, 100, 50} → mean 90, threshold 90 − 1.9 × 20 = 52.
  assert.deepEqual(detector.successRateNums('external'), { average: 90, ejectionThreshold: 52 });
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((slot) => detector.hostSuccessRate(slot, 'external')),
    [100, 100, 100, 100, 50],
  );
  assert.equal(detector.hostSuccessRate(4, 'local'), -1, 'not split: no local-origin rates');
  detector.sweep();
  assert.deepEqual(events.detected, ['success_rate'], 'nothing left to judge');
  assert.deepEqual(detector.successRateNums('external'), { average: -1, ejectionThreshold: -1 });
  assert.equal(detector.hostSuccessRate(0, 'external'), -1, 'an interval without requests forgets the rates');
});

test('success rate needs request volume and enough hosts', () => {
  const low = setup({}, 5);
  for (const slot of [0, 1, 2, 3]) traffic(low.recorder, slot, 100, 0);
  traffic(low.recorder, 4, 99, 50);
  low.detector.sweep();
  assert.deepEqual(low.events.detected, [], 'the bad host has 99 < 100 requests: four valid hosts');

  // Four hosts: below both minimums, workers do not even count.
  const small = setup({}, 4);
  for (const slot of [0, 1, 2, 3]) traffic(small.recorder, slot, 100, slot === 3 ? 100 : 0);
  assert.equal(small.table.get(3, HostColumn.OutlierRequests), 0);
  small.detector.sweep();
  assert.deepEqual(small.events.detected, []);
});

test('failure percentage: detected at the threshold, enforced only when enforcing_failure_percentage is set', () => {
  const dflt = setup({ successRateMinimumHosts: 100, consecutive5xx: 0 }, 5);
  for (const slot of [0, 1, 2, 3]) traffic(dflt.recorder, slot, 50, 0);
  for (let i = 0; i < 50; i++) dflt.recorder.recordStatus(4, i < 43 && i % 4 !== 3 ? 500 : 200);
  dflt.detector.sweep();
  assert.deepEqual(dflt.events.detected, [], '32 of 50 failed: 64 % < 85 %');

  const on = setup({ successRateMinimumHosts: 100, enforcingFailurePercentage: 100, consecutive5xx: 0 }, 5);
  for (const slot of [0, 1, 2, 3]) traffic(on.recorder, slot, 50, 0);
  for (let i = 0; i < 50; i++) on.recorder.recordStatus(4, i % 7 === 6 ? 200 : 500); // 43 failures: 86 %
  on.detector.sweep();
  assert.deepEqual(on.events.detected, ['failure_percentage']);
  assert.deepEqual(on.events.enforced, ['failure_percentage']);

  const off = setup({ successRateMinimumHosts: 100, consecutive5xx: 0 }, 5);
  for (const slot of [0, 1, 2, 3]) traffic(off.recorder, slot, 50, 0);
  for (let i = 0; i < 50; i++) off.recorder.recordStatus(4, i % 7 === 6 ? 200 : 500);
  off.detector.sweep();
  assert.deepEqual(off.events.detected, ['failure_percentage']);
  assert.deepEqual(off.events.enforced, [], 'enforcing_failure_percentage defaults to 0');
});

test('split: local-origin failures feed the local-origin rate detectors, responses do not fail them', () => {
  const { table, events, detector, recorder } = setup(
    {
      splitExternalLocalOriginErrors: true,
      enforcingFailurePercentageLocalOrigin: 100,
      consecutiveLocalOriginFailure: 0,
    },
    5,
  );
  for (const slot of [0, 1, 2, 3]) for (let i = 0; i < 100; i++) recorder.recordStatus(slot, 200);
  for (let i = 0; i < 100; i++) {
    if (i % 10 === 0) recorder.recordStatus(4, 200);
    else recorder.recordLocalFailure(4, false);
  }
  detector.sweep();
  assert.equal(ejected(table, 4), true);
  // External: host 4 had 10 responses (below both volumes). Local origin: 90 % failures.
  assert.deepEqual(events.detected, ['local_origin_success_rate']);
  assert.deepEqual(events.enforced, ['local_origin_success_rate']);
  assert.equal(detector.hostSuccessRate(4, 'local'), 10);
  assert.equal(detector.hostSuccessRate(4, 'external'), -1, '10 responses: below both volumes');
  assert.equal(detector.successRateNums('local').average, 82);
});
