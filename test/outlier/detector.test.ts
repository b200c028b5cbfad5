/**
 * The consecutive-error detectors and ejection timing, against a real shared host table, with an
 * injected clock and enforcement roll: what ejects, what overflows, and how a flapping host's
 * ejections grow (base × backoff, capped at max_ejection_time) and shrink again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutlierDetectionConfig } from '../../src/config/bootstrap';
import { HostColumn, HostTable } from '../../src/upstream/host-table';
import { OutlierRecorder } from '../../src/upstream/outlier/recorder';
import { ClusterOutlierDetector, type EjectionType } from '../../src/upstream/outlier/detector';
import { clusterConfig, endpoint } from '../upstream/helpers';

const DEFAULTS: OutlierDetectionConfig = {
  intervalMs: 100,
  baseEjectionTimeMs: 1000,
  maxEjectionTimeMs: 3500,
  maxEjectionPercent: 100,
  consecutive5xx: 5,
  enforcingConsecutive5xx: 100,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
};

function setup(overrides: Partial<OutlierDetectionConfig> = {}, hostCount = 4) {
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
      random: () => 0.5,
      events: {
        detected: (t) => events.detected.push(t),
        enforced: (t) => events.enforced.push(t),
        overflow: () => events.overflow++,
        activeChanged: (d) => (events.active += d),
      },
    },
    true,
  );
  const recorder = new OutlierRecorder(table, config);
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

test('five consecutive 5xx eject the host at the next sweep; a success in the run resets it', () => {
  const { table, events, detector, recorder, changes } = setup();
  for (let i = 0; i < 4; i++) recorder.recordStatus(0, 500);
  recorder.recordStatus(0, 200);
  for (let i = 0; i < 4; i++) recorder.recordStatus(0, 500);
  detector.sweep();
  assert.equal(ejected(table, 0), false);
  recorder.recordStatus(0, 500);
  assert.equal(table.get(0, HostColumn.Consecutive5xx), 5);
  detector.sweep();
  assert.equal(ejected(table, 0), true);
  assert.deepEqual(events.enforced, ['consecutive_5xx']);
  assert.deepEqual(events.detected, ['consecutive_5xx']);
  assert.equal(events.active, 1);
  assert.equal(changes(), 1);
  assert.equal(table.get(0, HostColumn.Consecutive5xx), 0);
  for (const slot of [1, 2, 3]) assert.equal(ejected(table, slot), false);
});

test('gateway failures are detected but not enforced by default; they still count as 5xx', () => {
  const { table, events, detector, recorder } = setup();
  for (let i = 0; i < 5; i++) recorder.recordStatus(1, 502);
  detector.sweep();
  assert.deepEqual(events.detected, ['consecutive_gateway_failure', 'consecutive_5xx']);
  assert.deepEqual(events.enforced, ['consecutive_5xx']);
  assert.equal(ejected(table, 1), true);
});

test('enforcing_consecutive_gateway_failure 100 ejects on gateway failures', () => {
  const { events, detector, recorder } = setup({
    enforcingConsecutiveGatewayFailure: 100,
    consecutive5xx: 0,
  });
  for (let i = 0; i < 5; i++) recorder.recordStatus(2, 503);
  detector.sweep();
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
  unsplit.detector.sweep();
  assert.deepEqual(unsplit.events.enforced, ['consecutive_5xx']);

  const split = setup({ splitExternalLocalOriginErrors: true });
  for (let i = 0; i < 4; i++) split.recorder.recordLocalFailure(0, false);
  split.recorder.recordStatus(0, 200);
  for (let i = 0; i < 5; i++) split.recorder.recordLocalFailure(0, true);
  assert.equal(split.table.get(0, HostColumn.Consecutive5xx), 0);
  split.detector.sweep();
  assert.deepEqual(split.events.enforced, ['consecutive_local_origin_failure']);
});

test('max_ejection_percent: an ejection above it is an overflow, as in Envoy', () => {
  const { table, events, detector, recorder } = setup({ maxEjectionPercent: 25 });
  for (const slot of [0, 1]) for (let i = 0; i < 5; i++) recorder.recordStatus(slot, 500);
  detector.sweep();
  assert.equal(ejected(table, 0), true);
  assert.equal(ejected(table, 1), false);
  assert.equal(events.overflow, 1);
  // The default 10 % never ejects from a 4-host cluster (Envoy issue #3263).
  const small = setup({ maxEjectionPercent: 10 });
  for (let i = 0; i < 5; i++) small.recorder.recordStatus(0, 500);
  small.detector.sweep();
  assert.equal(ejected(small.table, 0), false);
  assert.equal(small.events.overflow, 1);
});

test('a flapping host is ejected for longer each time, up to max_ejection_time', () => {
  const { table, clock, detector, recorder, events } = setup();
  const durations: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 5; i++) recorder.recordStatus(0, 500);
    detector.sweep();
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
