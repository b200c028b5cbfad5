/**
 * The run second by second: for each 1-second bucket, the requests completed, the errors by kind
 * and the latency (p50, p99) of the requests *intended* in that second. A failover shows up here as
 * the seconds where errors appear and p99 rises, which the run's totals average away.
 *
 * Requests and request errors (non-2xx, timeout, reset with requests in flight, parse) go to the
 * second of the affected request's intended send time (closed loop: its send time), so a timeout
 * lands in the second its request was meant for, not `--timeout` later; a connect error (no request
 * involved) goes to the second it happened. Each generator thread records into its own buckets (one
 * small histogram per second, created when the second first sees a response); the main thread adds
 * the threads' buckets second by second, which is exact.
 */
import { addErrorCounts, emptyErrorCounts, type ErrorCounts } from './error-counts';
import type { BucketRecorder } from './bucket-recorder';
import {
  createTimelineHistogram,
  createTimelineRecorder,
  encodeRecorder,
  mergeEncodedHistograms,
} from './histogram';

const BUCKET_MS = 1000;

/** One second of one thread, as it crosses threads (histogram encoded, null if no response). */
export interface EncodedTimelineBucket {
  requests: number;
  errors: ErrorCounts;
  latency: string | null;
}

/** One second of the merged timeline (latencies in ms; 0 when the second had no response). */
export interface TimelineEntry {
  /** Seconds since the start of the run: this bucket covers [t, t + 1). */
  t: number;
  requests: number;
  errors: ErrorCounts;
  p50: number;
  p99: number;
}

interface Bucket {
  requests: number;
  errors: ErrorCounts;
  latency: BucketRecorder | null;
}

/** A generator thread's timeline; times are the thread's `performance.now()` milliseconds. */
export class TimelineRecorder {
  /** Until the run starts everything goes to bucket 0 (only warm-up connect errors can come that early). */
  private startAt = Infinity;
  private lastBucket = 0;
  private readonly buckets: Bucket[] = [];

  /**
   * The run starts at `at` and lasts `durationMs`: bucket 0 begins at `at`. What comes after the
   * last second (connect errors while draining; a request sent at the very end whose send time
   * includes the generator's own lag) counts in the last second, so the timeline has exactly one
   * bucket per second of the run.
   */
  start(at: number, durationMs: number): void {
    this.startAt = at;
    this.lastBucket = Math.max(0, Math.ceil(durationMs / BUCKET_MS) - 1);
  }

  private bucket(at: number): Bucket {
    const i = at <= this.startAt ? 0 : Math.min(this.lastBucket, Math.floor((at - this.startAt) / BUCKET_MS));
    let b = this.buckets[i];
    if (b === undefined) {
      for (let k = this.buckets.length; k <= i; k++)
        this.buckets.push({ requests: 0, errors: emptyErrorCounts(), latency: null });
      b = this.buckets[i]!;
    }
    return b;
  }

  /** A response to the request intended at `intendedAt` took `latencyUs`. */
  recordResponse(intendedAt: number, latencyUs: number, non2xx: boolean): void {
    const b = this.bucket(intendedAt);
    b.requests++;
    if (non2xx) b.errors.non2xx++;
    (b.latency ??= createTimelineRecorder()).record(latencyUs);
  }

  recordError(kind: keyof ErrorCounts, at: number, count: number): void {
    this.bucket(at).errors[kind] += count;
  }

  encode(): EncodedTimelineBucket[] {
    return this.buckets.map((b) => ({
      requests: b.requests,
      errors: { ...b.errors },
      latency: b.latency === null ? null : encodeRecorder(b.latency),
    }));
  }
}

/** Adds the threads' timelines second by second (threads share the run's start instant). */
export function mergeTimelines(threads: ReadonlyArray<readonly EncodedTimelineBucket[]>): TimelineEntry[] {
  const seconds = Math.max(0, ...threads.map((t) => t.length));
  const out: TimelineEntry[] = [];
  for (let t = 0; t < seconds; t++) {
    const errors = emptyErrorCounts();
    let requests = 0;
    const encoded: string[] = [];
    for (const thread of threads) {
      const b = thread[t];
      if (b === undefined) continue;
      requests += b.requests;
      addErrorCounts(errors, b.errors);
      if (b.latency !== null) encoded.push(b.latency);
    }
    const h = mergeEncodedHistograms(encoded, createTimelineHistogram);
    const at = (p: number): number => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000);
    out.push({ t, requests, errors, p50: at(50), p99: at(99) });
  }
  return out;
}
