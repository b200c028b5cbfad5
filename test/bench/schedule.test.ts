import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionSchedule, connectionSchedule, splitEvenly } from '../../src/bench/schedule';

test('a connection timeline is start + offset + k * interval, independent of when requests are taken', () => {
  const s = new ConnectionSchedule(5, 10);
  s.startAt(1000);
  assert.equal(s.dueAt(), 1005);
  assert.equal(s.take(), 1005);
  assert.equal(s.take(), 1015);
  assert.equal(s.dueAt(), 1025);
  // Falling behind does not shift the timeline: the next slot is still on the grid.
  assert.equal(s.scheduledBefore(1005), 0);
  assert.equal(s.scheduledBefore(1005.1), 1);
  assert.equal(s.scheduledBefore(1100), 10);
});

test('the union of all connection timelines is an even grid of 1/R seconds', () => {
  const rate = 400; // req/s → 2.5 ms apart overall
  const connections = 8;
  const times: number[] = [];
  for (let i = 0; i < connections; i++) {
    const s = connectionSchedule(rate, connections, i);
    s.startAt(0);
    for (let k = 0; k < 50; k++) times.push(s.take());
  }
  times.sort((a, b) => a - b);
  for (let i = 0; i < times.length; i++)
    assert.ok(Math.abs(times[i]! - i * 2.5) < 1e-9, `slot ${i} at ${times[i]}`);
});

test('scheduled counts over all connections match rate × duration', () => {
  const rate = 1000;
  const connections = 7;
  let total = 0;
  for (let i = 0; i < connections; i++) {
    const s = connectionSchedule(rate, connections, i);
    s.startAt(100);
    total += s.scheduledBefore(100 + 2000);
  }
  assert.equal(total, 2000);
});

test('connections are split over threads evenly and completely', () => {
  assert.deepEqual(splitEvenly(10, 3), [4, 3, 3]);
  assert.deepEqual(splitEvenly(4, 4), [1, 1, 1, 1]);
  for (const [total, parts] of [
    [50, 1],
    [51, 2],
    [1000, 7],
  ] as const) {
    const split = splitEvenly(total, parts);
    assert.equal(split.length, parts);
    assert.equal(
      split.reduce((a, b) => a + b, 0),
      total,
    );
    assert.ok(Math.max(...split) - Math.min(...split) <= 1);
  }
});
