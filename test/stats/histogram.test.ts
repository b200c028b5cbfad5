import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  BUCKET_COUNT,
  HISTOGRAM_SLOTS,
  HistogramSnapshot,
  SharedHistogram,
  bucketIndex,
  bucketLowerUs,
  bucketWidthUs,
} from '../../src/stats/histogram';

function histogram(): { h: SharedHistogram; snap: () => HistogramSnapshot } {
  const row = new Float64Array(HISTOGRAM_SLOTS);
  return { h: new SharedHistogram(row, 0), snap: () => new HistogramSnapshot(row.slice()) };
}

test('every value falls inside the bounds of its bucket, buckets are contiguous and ≤ 1/32 wide', () => {
  const samples = [
    0,
    1,
    31,
    32,
    63,
    64,
    65,
    1000,
    4095,
    4096,
    123_456,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 31 + 5,
    3.6e9,
    2 ** 40 - 1,
  ];
  for (const us of samples) {
    const i = bucketIndex(us);
    assert.ok(i >= 0 && i < BUCKET_COUNT, `index of ${us}`);
    assert.ok(bucketLowerUs(i) <= us && us < bucketLowerUs(i) + bucketWidthUs(i), `bounds of ${us}`);
  }
  for (let i = 1; i < BUCKET_COUNT; i++) {
    assert.equal(
      bucketLowerUs(i),
      bucketLowerUs(i - 1) + bucketWidthUs(i - 1),
      `bucket ${i} follows ${i - 1}`,
    );
    assert.ok(bucketWidthUs(i) <= Math.max(1, bucketLowerUs(i) / 32), `bucket ${i} width`);
  }
  assert.equal(bucketIndex(2 ** 40 - 1), BUCKET_COUNT - 1);
});

test('quantiles interpolate inside buckets; P0/P100 are the extreme buckets; empty is NaN', () => {
  const { h, snap } = histogram();
  assert.ok(Number.isNaN(snap().quantile(0.5)));
  for (let ms = 1; ms <= 100; ms++) h.record(ms);
  const s = snap();
  assert.equal(s.count, 100);
  assert.equal(s.sumMs, 5050);
  for (const [q, want] of [
    [0, 1],
    [0.5, 50],
    [0.9, 90],
    [0.99, 99],
    [1, 100],
  ] as const) {
    const got = s.quantile(q);
    assert.ok(Math.abs(got - want) / want < 0.04, `P${q * 100}: ${got} vs ${want}`);
  }
});

test('values are kept to the microsecond and clamped at both ends', () => {
  const { h, snap } = histogram();
  h.record(0.0123);
  h.record(-5);
  h.record(1e12);
  const s = snap();
  assert.equal(s.count, 3);
  assert.ok(Math.abs(s.quantile(0.5) - 0.012) < 0.001);
  assert.equal(s.quantile(0), 0);
  assert.ok(s.quantile(1) > 1e9 && s.quantile(1) <= 2 ** 40 / 1000);
});

test('cumulativeAt counts a value at its bound (le is inclusive), and at most 3.1 % above it', () => {
  const { h, snap } = histogram();
  for (const ms of [0.3, 1, 1, 5, 7, 5000, 5200]) h.record(ms);
  assert.deepEqual(snap().cumulativeAt([0.5, 1, 5, 10, 5000, 10000]), [1, 3, 4, 5, 6, 7]);
  h.record(5001); // shares the bucket of 5000 ms (131 ms wide there)
  assert.deepEqual(snap().cumulativeAt([5000, 10000]), [7, 8]);
});

test('minus gives what was recorded since an earlier snapshot', () => {
  const { h, snap } = histogram();
  h.record(10);
  const before = snap();
  h.record(20);
  h.record(30);
  const d = snap().minus(before);
  assert.equal(d.count, 2);
  assert.equal(d.sumMs, 50);
  assert.ok(d.quantile(0) >= 19 && d.quantile(0) <= 20);
});
