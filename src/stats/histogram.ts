/**
 * Log-linear histogram buckets (the HdrHistogram layout at 5 significant bits) for Legate's shared
 * stats: values are durations in milliseconds, kept at microsecond resolution. Below 64 µs every
 * microsecond has its own bucket; above, each power of two is split into 32 equal buckets, so a
 * bucket is at most 1/32 (3.1 %) of its lower bound wide, close to Envoy's own circllhist (two
 * significant decimal digits). Values are clamped to 2^40 µs (12.7 days).
 *
 * Why buckets in shared memory rather than hdr-histogram-js per worker: `perf/stats.ts` measures
 * both. Recording here is an index computation and three Float64 increments in the thread's own
 * row of the stats SharedArrayBuffer (no Atomics: one writer per row), and the admin merges the
 * rows by summing them, without messaging any worker; hdr-histogram-js would need each worker to
 * encode and post its histogram for every `/stats` read.
 *
 * One histogram occupies HISTOGRAM_SLOTS Float64 slots per thread: BUCKET_COUNT counts, then the
 * sum of recorded values (µs), then the number of values.
 */
const SUB_BITS = 5;
const SUB_COUNT = 1 << SUB_BITS; // 32
const MAX_EXPONENT = 40;
const MAX_VALUE_US = 2 ** MAX_EXPONENT - 1;
const CLZ_LIMIT = 2 ** 31;

export const BUCKET_COUNT = (MAX_EXPONENT - SUB_BITS + 1) * SUB_COUNT;
export const SUM_SLOT = BUCKET_COUNT;
export const COUNT_SLOT = BUCKET_COUNT + 1;
export const HISTOGRAM_SLOTS = BUCKET_COUNT + 2;

/** Envoy's quantiles for `/stats` (P0 … P100). */
export const SUPPORTED_QUANTILES = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1] as const;

/** Envoy's default Prometheus bucket bounds, in ms (`stats_config.histogram_bucket_settings` default). */
export const DEFAULT_PROMETHEUS_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
] as const;

/** Bucket of a value in µs (an integer in [0, MAX_VALUE_US]). */
export function bucketIndex(us: number): number {
  if (us < SUB_COUNT) return us;
  if (us < CLZ_LIMIT) {
    // The common case (< 35 minutes): integer shifts only.
    const shift = 31 - SUB_BITS - Math.clz32(us);
    return ((shift + 1) << SUB_BITS) + (us >>> shift) - SUB_COUNT;
  }
  const shift = largeExponent(us) - SUB_BITS;
  return (shift + 1) * SUB_COUNT + Math.floor(us / 2 ** shift) - SUB_COUNT;
}

/** floor(log2(us)) for values past clz32's range, corrected for log2 rounding up near 2^k. */
function largeExponent(us: number): number {
  const e = Math.floor(Math.log2(us));
  return 2 ** e > us ? e - 1 : e;
}

/** Lowest value (µs) that falls into bucket `i`. */
export function bucketLowerUs(i: number): number {
  if (i < SUB_COUNT) return i;
  const group = Math.floor(i / SUB_COUNT);
  return (SUB_COUNT + (i % SUB_COUNT)) * 2 ** (group - 1);
}

/** Width of bucket `i` in µs. */
export function bucketWidthUs(i: number): number {
  return i < 2 * SUB_COUNT ? 1 : 2 ** (Math.floor(i / SUB_COUNT) - 1);
}

/** Converts a duration in ms to the clamped integer µs the buckets use. */
export function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return us > 0 ? (us < MAX_VALUE_US ? us : MAX_VALUE_US) : 0;
}

/** A histogram bound to one thread's row: the hot path's `record`. */
export interface Histogram {
  /** Records one duration in milliseconds (fractions are kept to the microsecond). */
  record(ms: number): void;
}

export class SharedHistogram implements Histogram {
  constructor(
    private readonly row: Float64Array,
    /** Offset of this histogram's first slot in `row`. */
    private readonly base: number,
  ) {}

  record(ms: number): void {
    const us = toMicros(ms);
    const row = this.row;
    const b = this.base;
    row[b + bucketIndex(us)]!++;
    row[b + SUM_SLOT]! += us;
    row[b + COUNT_SLOT]!++;
  }
}

/** A merged (all threads) histogram: bucket counts, sum and count, as the admin reads it. */
export class HistogramSnapshot {
  constructor(readonly slots: Float64Array) {}

  static empty(): HistogramSnapshot {
    return new HistogramSnapshot(new Float64Array(HISTOGRAM_SLOTS));
  }

  get count(): number {
    return this.slots[COUNT_SLOT]!;
  }

  /** Sum of the recorded values, in ms. */
  get sumMs(): number {
    return this.slots[SUM_SLOT]! / 1000;
  }

  /** What was recorded since `earlier` (an older snapshot of the same histogram). */
  minus(earlier: HistogramSnapshot): HistogramSnapshot {
    const out = new Float64Array(HISTOGRAM_SLOTS);
    for (let i = 0; i < HISTOGRAM_SLOTS; i++) out[i] = this.slots[i]! - earlier.slots[i]!;
    return new HistogramSnapshot(out);
  }

  /**
   * Quantile `q` in ms, or NaN when nothing was recorded. As circllhist does, the value is
   * interpolated linearly inside the bucket that holds the q-th value: P0 is the lowest bucket's
   * lower bound, P100 the highest bucket's upper bound.
   */
  quantile(q: number): number {
    const total = this.count;
    if (total === 0) return NaN;
    const rank = q * total;
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const c = this.slots[i]!;
      if (c === 0) continue;
      if (seen + c >= rank) {
        const frac = (rank - seen) / c;
        return (bucketLowerUs(i) + frac * bucketWidthUs(i)) / 1000;
      }
      seen += c;
    }
    return NaN; // unreachable: the buckets add up to `count`
  }

  /**
   * Cumulative counts at each bound (ms), for Prometheus' `le` buckets. A bucket counts toward a
   * bound when its lower end is at or below it, so a value at the bound itself is always counted
   * (`le` is inclusive); a value up to one bucket (3.1 %) above the bound may be counted too.
   * Envoy's own conversion from circllhist is approximate in the same way.
   */
  cumulativeAt(boundsMs: readonly number[]): number[] {
    const out: number[] = [];
    let i = 0;
    let cum = 0;
    for (const bound of boundsMs) {
      const us = bound * 1000;
      while (i < BUCKET_COUNT && bucketLowerUs(i) <= us) cum += this.slots[i++]!;
      out.push(cum);
    }
    return out;
  }
}
