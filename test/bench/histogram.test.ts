import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLatencyHistogram,
  encodeHistogram,
  mergeEncodedHistograms,
  percentileCurve,
  summarizeLatency,
} from '../../src/bench/histogram';

/** Deterministic pseudo-random latencies (µs), with a heavy tail. */
function latencies(seed: number, n: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const u = x / 2147483648;
    out.push(Math.round(50 + (u < 0.99 ? u * 400 : u * 200_000)));
  }
  return out;
}

test('merging encoded per-thread histograms equals recording everything in one', () => {
  const threads = [latencies(1, 20_000), latencies(2, 5_000), latencies(3, 1)];
  const direct = createLatencyHistogram();
  const encoded = threads.map((values) => {
    const h = createLatencyHistogram();
    for (const v of values) {
      h.recordValue(v);
      direct.recordValue(v);
    }
    return encodeHistogram(h);
  });
  const merged = mergeEncodedHistograms(encoded);
  assert.equal(merged.totalCount, 25_001);
  for (const p of [0, 50, 90, 99, 99.9, 99.99, 100]) {
    assert.equal(merged.getValueAtPercentile(p), direct.getValueAtPercentile(p), `p${p}`);
  }
});

test('the summary is in milliseconds and its percentiles are ordered', () => {
  const h = createLatencyHistogram();
  for (const v of latencies(7, 10_000)) h.recordValue(v);
  const s = summarizeLatency(h);
  const order = [s.p50, s.p75, s.p90, s.p99, s['p99.9'], s['p99.99'], s.max];
  for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! <= order[i]!, `${order}`);
  assert.ok(s.p50 > 0.05 && s.p50 < 0.5, `p50 ${s.p50} ms`);
  assert.ok(s.max > 100, `max ${s.max} ms`);
});

test('the percentile curve is monotonic, ends at the maximum, and is empty without samples', () => {
  const h = createLatencyHistogram();
  assert.deepEqual(percentileCurve(h), []);
  for (const v of latencies(9, 5_000)) h.recordValue(v);
  const curve = percentileCurve(h);
  for (let i = 1; i < curve.length; i++) {
    assert.ok(curve[i]![0] > curve[i - 1]![0]);
    assert.ok(curve[i]![1] >= curve[i - 1]![1]);
  }
  assert.deepEqual(curve.at(-1), [100, summarizeLatency(h).max]);
  assert.ok(curve.at(-1)![1] >= h.maxValue / 1000);
});
