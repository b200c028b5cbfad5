/**
 * Latency histograms: pure-JS HdrHistograms (no wasm memory to free) recording microseconds with 3
 * significant digits. Generator threads encode theirs with `encodeIntoCompressedBase64`; the main
 * thread decodes and adds them, which is exact (HdrHistogram addition loses nothing).
 */
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { BucketRecorder } from './bucket-recorder';

export type { Histogram };

/** Highest latency tracked without resizing: one hour, in microseconds. */
const HIGHEST_US = 3_600_000_000;
type SignificantDigits = 1 | 2 | 3 | 4 | 5;
const LATENCY_DIGITS: SignificantDigits = 3;
/** What a generator thread's recorder is first sized for (it grows past it): one second. */
const EXPECTED_LATENCY_US = 1_000_000;
const TIMELINE_DIGITS: SignificantDigits = 2;
const TIMELINE_FIRST_HIGHEST_US = 10_000;

function buildHistogram(
  highestTrackableValue: number,
  numberOfSignificantValueDigits: SignificantDigits,
): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    useWebAssembly: false,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue,
    numberOfSignificantValueDigits,
  });
}

export function createLatencyHistogram(): Histogram {
  return buildHistogram(HIGHEST_US, LATENCY_DIGITS);
}

/**
 * A small histogram for one second of a timeline: 2 significant digits (1 % resolution is plenty
 * for a per-second p99) and sized for 10 ms at first, growing only if slower responses come, so a
 * bucket costs ~2 KB instead of the ~95 KB of a full-range 3-digit histogram.
 */
export function createTimelineHistogram(): Histogram {
  return buildHistogram(TIMELINE_FIRST_HIGHEST_US, TIMELINE_DIGITS);
}

/** What generator threads record latencies into (see bucket-recorder.ts for why not the histogram). */
export function createLatencyRecorder(): BucketRecorder {
  return new BucketRecorder(createLatencyHistogram(), LATENCY_DIGITS, EXPECTED_LATENCY_US);
}

/** The recorder of one timeline second. */
export function createTimelineRecorder(): BucketRecorder {
  return new BucketRecorder(createTimelineHistogram(), TIMELINE_DIGITS, TIMELINE_FIRST_HIGHEST_US);
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Encodes everything a recorder has recorded. */
export function encodeRecorder(r: BucketRecorder): string {
  r.flush();
  return encodeHistogram(r.histogram);
}

/** Decodes every encoded histogram and adds them into one new histogram. */
export function mergeEncodedHistograms(
  encoded: readonly string[],
  create: () => Histogram = createLatencyHistogram,
): Histogram {
  const merged = create();
  for (const e of encoded) merged.add(hdr.decodeFromCompressedBase64(e, 32, false));
  return merged;
}

/** Latency percentiles in milliseconds; the JSON report's `latency` object. */
export interface LatencySummary {
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  'p99.9': number;
  'p99.99': number;
  max: number;
  mean: number;
  stdev: number;
}

const US_PER_MS = 1000;

/**
 * The maximum as HdrHistogram reports it (the top of its bucket, like `getValueAtPercentile`), so
 * it is never below p99.99. `maxValue` is the raw value before encoding and the bucket top after
 * decoding, which would make merged and unmerged histograms disagree.
 */
function maxMs(h: Histogram): number {
  return h.totalCount === 0 ? 0 : h.getValueAtPercentile(100) / US_PER_MS;
}

export function summarizeLatency(h: Histogram): LatencySummary {
  const at = (p: number): number => h.getValueAtPercentile(p) / US_PER_MS;
  return {
    p50: at(50),
    p75: at(75),
    p90: at(90),
    p99: at(99),
    'p99.9': at(99.9),
    'p99.99': at(99.99),
    max: maxMs(h),
    mean: h.mean / US_PER_MS,
    stdev: h.stdDeviation / US_PER_MS,
  };
}

/**
 * Points of the latency-by-percentile curve, `[percentile, ms]`, evenly spaced on the
 * `-log10(1 - p)` axis from 0 % to 99.999 %, then the maximum at 100 %: what the HTML report plots.
 */
export function percentileCurve(h: Histogram, pointsPerDecade = 20, decades = 5): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (h.totalCount === 0) return out;
  for (let i = 0; i <= pointsPerDecade * decades; i++) {
    const p = 100 * (1 - Math.pow(10, -i / pointsPerDecade));
    out.push([Number(p.toFixed(6)), h.getValueAtPercentile(p) / US_PER_MS]);
  }
  out.push([100, maxMs(h)]);
  return out;
}

/** The standard HdrHistogram percentile distribution text (what hgrm plotters read), in ms. */
export function percentileDistributionText(h: Histogram): string {
  return h.outputPercentileDistribution(5, US_PER_MS);
}
