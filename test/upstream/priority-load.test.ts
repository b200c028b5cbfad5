/**
 * The per-priority load and panic computation against Envoy's documented examples (the tables of
 * arch_overview/upstream/load_balancing/priority) and the cases of Envoy's LoadBalancerBaseTest.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  computePriorityLoad,
  levelCounts,
  type LevelCounts,
  type PrioritySettings,
} from '../../src/upstream/lb/priority-load';
import { makeHosts } from './helpers';

const ENVOY: PrioritySettings = {
  overprovisioningFactor: 140,
  healthyPanicThreshold: 50,
  weightedPriorityHealth: false,
};
const NO_PANIC: PrioritySettings = { ...ENVOY, healthyPanicThreshold: 0 };

/** A level of `hosts` hosts of weight 1, `healthy` of them healthy. */
function level(hosts: number, healthy: number): LevelCounts {
  return { hosts, healthy, weight: hosts, healthyWeight: healthy };
}

/** Levels of 100 hosts each, with these percentages healthy. */
function percents(...healthy: number[]): LevelCounts[] {
  return healthy.map((h) => level(100, h));
}

function loadOf(levels: LevelCounts[], settings = ENVOY): readonly number[] {
  return computePriorityLoad(levels, settings).load;
}

test('docs, two levels with P1 fully healthy: P0 keeps health × 1.4, the rest spills to P1', () => {
  const rows: [number, number[]][] = [
    [100, [100, 0]],
    [72, [100, 0]],
    [71, [99, 1]],
    [50, [70, 30]],
    [25, [35, 65]],
    [0, [0, 100]],
  ];
  for (const [p0, expected] of rows)
    assert.deepEqual(loadOf(percents(p0, 100)), expected, `P0 ${p0} % healthy`);
});

test('docs, two levels: below 100 total health the loads are normalized', () => {
  const rows: [number, number, number[]][] = [
    [100, 100, [100, 0]],
    [72, 72, [100, 0]],
    [71, 71, [99, 1]],
    [50, 50, [70, 30]],
    [25, 100, [35, 65]],
    [25, 25, [50, 50]],
  ];
  for (const [p0, p1, expected] of rows) assert.deepEqual(loadOf(percents(p0, p1)), expected, `${p0}/${p1}`);
});

test('docs, three levels: each level takes its normalized health until 100 % is assigned', () => {
  const rows: [number[], number[]][] = [
    [
      [100, 100, 100],
      [100, 0, 0],
    ],
    [
      [72, 72, 100],
      [100, 0, 0],
    ],
    [
      [71, 71, 100],
      [99, 1, 0],
    ],
    [
      [50, 50, 100],
      [70, 30, 0],
    ],
    [
      [25, 100, 100],
      [35, 65, 0],
    ],
    [
      [25, 25, 100],
      [35, 35, 30],
    ],
  ];
  for (const [healthy, expected] of rows)
    assert.deepEqual(loadOf(percents(...healthy)), expected, healthy.join('/'));
  // The docs' last row says 36/36/28; Envoy's code floors each share (35, 35, 28 of a total health
  // of 98) and gives the 2 left over to the first level. Without panic, as in the docs' model.
  assert.deepEqual(loadOf(percents(25, 25, 20), NO_PANIC), [37, 35, 28]);
});

test("the issue's case: P0 with 4 of 5 healthy keeps everything, with 2 of 5 keeps 56 %", () => {
  assert.deepEqual(loadOf([level(5, 4), level(1, 1)]), [100, 0]);
  assert.deepEqual(computePriorityLoad([level(5, 2), level(1, 1)], ENVOY), {
    load: [56, 44],
    panic: [false, false],
  });
});

test('Envoy GentleFailover: a level panics only while the total health is below 100', () => {
  assert.deepEqual(computePriorityLoad([level(2, 1), level(2, 1)], ENVOY), {
    load: [70, 30],
    panic: [false, false],
  });
  // P0 is at 25 % (below the threshold) but P1 covers the rest: no panic.
  assert.deepEqual(computePriorityLoad([level(4, 1), level(2, 2)], ENVOY), {
    load: [35, 65],
    panic: [false, false],
  });
  assert.deepEqual(computePriorityLoad([level(4, 1), level(4, 1)], ENVOY), {
    load: [50, 50],
    panic: [true, true],
  });
});

test('Envoy GentleFailoverWithExtraLevels: total panic distributes by host count', () => {
  const cases: [LevelCounts[], number[], boolean[]][] = [
    [
      [level(5, 1), level(5, 1), level(5, 1)],
      [34, 33, 33],
      [true, true, true],
    ],
    [
      [level(5, 0), level(5, 0), level(5, 5)],
      [0, 0, 100],
      [false, false, false],
    ],
    [
      [level(5, 0), level(5, 0), level(5, 4)],
      [0, 0, 100],
      [false, false, false],
    ],
    [
      [level(5, 0), level(5, 0), level(5, 2)],
      [34, 33, 33],
      [true, true, true],
    ],
    [
      [level(5, 0), level(3, 0), level(2, 0)],
      [50, 30, 20],
      [true, true, true],
    ],
    [
      [level(5, 0), level(6, 2), level(3, 1)],
      [37, 42, 21],
      [true, true, true],
    ],
  ];
  for (const [levels, load, panic] of cases) {
    assert.deepEqual(computePriorityLoad(levels, ENVOY), { load, panic }, JSON.stringify(levels));
  }
});

test('one level in panic, one not: loads by health, panic per level', () => {
  // P0 20 % healthy (health 28, below the threshold), P1 50 % healthy (health 70, not below it).
  assert.deepEqual(computePriorityLoad([level(5, 1), level(10, 5)], ENVOY), {
    load: [29, 71],
    panic: [true, false],
  });
});

test('overprovisioning_factor 100: load follows the healthy share exactly', () => {
  assert.deepEqual(loadOf([level(4, 2), level(4, 2)]), [70, 30]);
  assert.deepEqual(loadOf([level(4, 2), level(4, 2)], { ...ENVOY, overprovisioningFactor: 100 }), [50, 50]);
});

test('weighted_priority_health: level health from healthy weight over total weight', () => {
  const { hosts } = makeHosts([3, 3, 2, 2]);
  hosts[2]!.healthy = false;
  hosts[3]!.healthy = false;
  const p0 = levelCounts(hosts);
  assert.deepEqual(p0, { hosts: 4, healthy: 2, weight: 10, healthyWeight: 6 });
  const settings = { ...ENVOY, overprovisioningFactor: 100 };
  assert.deepEqual(loadOf([p0, level(1, 1)], { ...settings, weightedPriorityHealth: true }), [60, 40]);
  assert.deepEqual(loadOf([p0, level(1, 1)], settings), [50, 50]);
});

test('no healthy host with panic disabled: P0 nominally takes everything, nothing panics', () => {
  assert.deepEqual(computePriorityLoad([level(2, 0), level(2, 0)], NO_PANIC), {
    load: [100, 0],
    panic: [false, false],
  });
});

test('empty levels take no load; no levels at all give empty results', () => {
  assert.deepEqual(computePriorityLoad([level(0, 0), level(2, 2)], ENVOY), {
    load: [0, 100],
    panic: [false, false],
  });
  assert.deepEqual(computePriorityLoad([level(0, 0), level(2, 0)], ENVOY), {
    load: [0, 100],
    panic: [true, true],
  });
  assert.deepEqual(computePriorityLoad([], ENVOY), { load: [], panic: [] });
});
