/**
 * HdrHistogram's recording step without its floating-point math. `hdr-histogram-js` finds a value's
 * counts index with `Math.log2` and two `Math.pow` calls per value, a visible share of a generator
 * thread at 100k responses/s (each response is recorded twice: run total and timeline second).
 * This computes the same index with `Math.clz32` and shifts — HdrHistogram's own Java formula — into
 * a typed array of its own, and `flush()` adds the counts to the real histogram index by index, so
 * the histogram ends up exactly as `recordValue` would have left it, except that its raw min/max are
 * bucket bounds (the reports already read bucket bounds: see `maxMs` in histogram.ts).
 *
 * Only for histograms with `lowestDiscernibleValue` 1 (unit magnitude 0), which is what the
 * generator builds. Values that do not fit a positive Int32 (over 35 minutes in µs) go straight to
 * the histogram.
 */
import type { Histogram } from 'hdr-histogram-js';

export class BucketRecorder {
  /** log2 of half the sub-buckets per bucket: 10 for 3 significant digits, 7 for 2. */
  private readonly halfMagnitude: number;
  private readonly halfCount: number;
  /** Values below this all land in bucket 0 (HdrHistogram's subBucketMask). */
  private readonly subBucketMask: number;
  /** 32 − halfMagnitude − 1: bucket = this − clz32(value | subBucketMask). */
  private readonly leadingZeroBase: number;
  private counts: Float64Array;
  private maxIndex = -1;

  constructor(
    readonly histogram: Histogram,
    significantDigits: number,
    /** The highest value expected, to size the counts array (it grows past it if needed). */
    expectedHighest: number,
  ) {
    this.halfMagnitude = Math.ceil(Math.log2(2 * 10 ** significantDigits)) - 1;
    this.halfCount = 1 << this.halfMagnitude;
    this.subBucketMask = 2 * this.halfCount - 1;
    this.leadingZeroBase = 32 - this.halfMagnitude - 1;
    this.counts = new Float64Array(this.indexOf(expectedHighest) + 1);
  }

  record(value: number): void {
    if (!(value >= 0 && value <= 0x7fffffff)) {
      this.histogram.recordValue(value);
      return;
    }
    const index = this.indexOf(value);
    if (index >= this.counts.length) this.grow(index);
    this.counts[index]!++;
    if (index > this.maxIndex) this.maxIndex = index;
  }

  /** Adds everything recorded since the last flush to the histogram. */
  flush(): void {
    const counts = this.counts;
    for (let i = 0; i <= this.maxIndex; i++) {
      const n = counts[i]!;
      if (n === 0) continue;
      this.histogram.recordValueWithCount(this.valueOf(i), n);
      counts[i] = 0;
    }
    this.maxIndex = -1;
  }

  /** HdrHistogram's countsArrayIndex for a value in [0, 2^31). */
  private indexOf(value: number): number {
    const bucket = this.leadingZeroBase - Math.clz32(value | this.subBucketMask);
    const subBucket = value >>> bucket;
    return ((bucket + 1) << this.halfMagnitude) + subBucket - this.halfCount;
  }

  /** The lowest value of the counts index `index` (HdrHistogram's valueFromIndex). */
  private valueOf(index: number): number {
    let bucket = (index >> this.halfMagnitude) - 1;
    let subBucket = (index & (this.halfCount - 1)) + this.halfCount;
    if (bucket < 0) {
      subBucket -= this.halfCount;
      bucket = 0;
    }
    return subBucket * 2 ** bucket;
  }

  private grow(index: number): void {
    const bigger = new Float64Array(Math.max(index + 1, this.counts.length * 2));
    bigger.set(this.counts);
    this.counts = bigger;
  }
}
