import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLatencyHistogram,
  createLatencyRecorder,
  createTimelineHistogram,
  createTimelineRecorder,
  encodeHistogram,
  encodeRecorder,
} from '../../src/bench/histogram';
import type { Histogram } from '../../src/bench/histogram';
import type { BucketRecorder } from '../../src/bench/bucket-recorder';

/** Values across every bucket a run can see: 0, small, each power of two and its neighbours, huge. */
function valuesAcrossBuckets(): number[] {
  const out = [0, 1, 2, 3, 999, 1000, 1001, 2047, 2048, 2049, 4095, 4096];
  for (let p = 12; p <= 33; p++) out.push(2 ** p - 1, 2 ** p, 2 ** p + 1, Math.round(1.37 * 2 ** p));
  let x = 7;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(x % 3_000_000);
  }
  return out;
}

function sameHistogram(viaRecorder: Histogram, direct: Histogram): void {
  assert.equal(viaRecorder.totalCount, direct.totalCount);
  for (const p of [0, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100])
    assert.equal(viaRecorder.getValueAtPercentile(p), direct.getValueAtPercentile(p), `p${p}`);
  assert.equal(viaRecorder.mean, direct.mean);
}

for (const [name, recorder, histogram] of [
  ['3 digits (run latency)', createLatencyRecorder, createLatencyHistogram],
  ['2 digits (timeline second)', createTimelineRecorder, createTimelineHistogram],
] as const) {
  test(`recorder with ${name}: the histogram equals recordValue's, bucket for bucket`, () => {
    const r: BucketRecorder = recorder();
    const direct = histogram();
    for (const v of valuesAcrossBuckets()) {
      r.record(v);
      direct.recordValue(v);
    }
    r.flush();
    sameHistogram(r.histogram, direct);
    // Encoding keeps only the buckets: both encode to the same bytes.
    assert.equal(encodeHistogram(r.histogram), encodeHistogram(direct));
  });
}

test('flush empties the recorder: recording after a flush adds, nothing counts twice', () => {
  const r = createLatencyRecorder();
  const direct = createLatencyHistogram();
  for (const v of [10, 20, 30_000]) {
    r.record(v);
    direct.recordValue(v);
  }
  r.flush();
  r.flush();
  for (const v of [10, 5_000_000]) {
    r.record(v);
    direct.recordValue(v);
  }
  assert.equal(encodeRecorder(r), encodeHistogram(direct));
  assert.equal(r.histogram.totalCount, 5);
});
