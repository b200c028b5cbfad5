/**
 * What one generator thread counts during a run, and the plain-data form it hands back to the main
 * thread. Counters are plain numbers on one long-lived object; only the end-of-run result crosses
 * threads.
 */
import { emptyErrorCounts, type ErrorCounts } from './error-counts';
import type { BucketRecorder } from './bucket-recorder';
import { createLatencyRecorder, encodeRecorder } from './histogram';
import { TimelineRecorder, type EncodedTimelineBucket } from './timeline';

/** Live counters of one generator thread. */
export class ThreadStats {
  /**
   * Response latency in µs. Constant-rate mode: from the intended send time, less the generator's
   * own send lag (see `lag`), so time spent waiting for a busy connection (a slow target) counts.
   */
  readonly latency: BucketRecorder = createLatencyRecorder();
  /**
   * Constant-rate mode only: how late the generator itself wrote each request, in µs, counted from
   * the later of its intended time and the moment its connection could take it. Large values mean
   * this machine could not keep the schedule (the server is not to blame).
   */
  readonly lag: BucketRecorder | null;
  requests = 0;
  sent = 0;
  bytesRead = 0;
  /** Responses by status code (index = status). */
  readonly statuses = new Uint32Array(600);
  readonly errors: ErrorCounts = emptyErrorCounts();
  /** The same counts and latencies, per second of the run. */
  readonly timeline = new TimelineRecorder();

  constructor(constantRate: boolean) {
    this.lag = constantRate ? createLatencyRecorder() : null;
  }

  /** A response with `status` to the request sent (constant rate: intended) at `startedAt`, complete at `now` (ms). */
  recordResponse(status: number, startedAt: number, now: number): void {
    const latencyUs = Math.round((now - startedAt) * 1000);
    const non2xx = status < 200 || status > 299;
    this.requests++;
    this.statuses[status < 600 ? status : 0]!++;
    if (non2xx) this.errors.non2xx++;
    this.latency.record(latencyUs);
    this.timeline.recordResponse(startedAt, latencyUs, non2xx);
  }

  /** `count` errors of `kind`, for requests sent at `at` (connect errors: when it happened). */
  countError(kind: Exclude<keyof ErrorCounts, 'non2xx'>, at: number, count = 1): void {
    this.errors[kind] += count;
    this.timeline.recordError(kind, at, count);
  }

  toResult(timing: { startedAtEpochMs: number; endedAtEpochMs: number; scheduled: number }): ThreadResult {
    const statusCounts: Record<string, number> = {};
    this.statuses.forEach((n, status) => {
      if (n > 0) statusCounts[String(status)] = n;
    });
    return {
      latency: encodeRecorder(this.latency),
      lag: this.lag === null ? null : encodeRecorder(this.lag),
      requests: this.requests,
      sent: this.sent,
      bytesRead: this.bytesRead,
      errors: { ...this.errors },
      statusCounts,
      timeline: this.timeline.encode(),
      ...timing,
    };
  }
}

/** One thread's end-of-run result (structured-clone friendly). */
export interface ThreadResult {
  latency: string;
  lag: string | null;
  requests: number;
  sent: number;
  bytesRead: number;
  errors: ErrorCounts;
  statusCounts: Record<string, number>;
  timeline: EncodedTimelineBucket[];
  /** Constant-rate mode: requests whose intended time fell inside the run (sent or not). */
  scheduled: number;
  startedAtEpochMs: number;
  endedAtEpochMs: number;
}
