/**
 * What one generator thread counts during a run, and the plain-data form it hands back to the main
 * thread. Counters are plain numbers on one long-lived object; only the end-of-run result crosses
 * threads.
 */
import { createLatencyHistogram, encodeHistogram, type Histogram } from './histogram';

/** Error counts by kind. `connect`/`reset` count connection events; `timeout` counts requests. */
export interface ErrorCounts {
  /** A connection attempt failed (refused, unreachable, timed out). */
  connect: number;
  /** A response took longer than `--timeout` (each such request counts once). */
  timeout: number;
  /** The server reset or closed a connection while requests were in flight. */
  reset: number;
  /** Completed responses whose status was not 2xx. */
  non2xx: number;
  /** A response that llhttp rejected. */
  parse: number;
}

export function emptyErrorCounts(): ErrorCounts {
  return { connect: 0, timeout: 0, reset: 0, non2xx: 0, parse: 0 };
}

export function addErrorCounts(into: ErrorCounts, from: ErrorCounts): void {
  into.connect += from.connect;
  into.timeout += from.timeout;
  into.reset += from.reset;
  into.non2xx += from.non2xx;
  into.parse += from.parse;
}

export function totalErrors(e: ErrorCounts): number {
  return e.connect + e.timeout + e.reset + e.non2xx + e.parse;
}

/** Live counters of one generator thread. */
export class ThreadStats {
  /**
   * Response latency in µs. Constant-rate mode: from the intended send time, less the generator's
   * own send lag (see `lag`), so time spent waiting for a busy connection (a slow target) counts.
   */
  readonly latency: Histogram = createLatencyHistogram();
  /**
   * Constant-rate mode only: how late the generator itself wrote each request, in µs, counted from
   * the later of its intended time and the moment its connection could take it. Large values mean
   * this machine could not keep the schedule (the server is not to blame).
   */
  readonly lag: Histogram | null;
  requests = 0;
  sent = 0;
  bytesRead = 0;
  /** Responses by status code (index = status). */
  readonly statuses = new Uint32Array(600);
  readonly errors: ErrorCounts = emptyErrorCounts();

  constructor(constantRate: boolean) {
    this.lag = constantRate ? createLatencyHistogram() : null;
  }

  countStatus(status: number): void {
    this.statuses[status < 600 ? status : 0]!++;
    if (status < 200 || status > 299) this.errors.non2xx++;
  }

  toResult(timing: { startedAtEpochMs: number; endedAtEpochMs: number; scheduled: number }): ThreadResult {
    const statusCounts: Record<string, number> = {};
    this.statuses.forEach((n, status) => {
      if (n > 0) statusCounts[String(status)] = n;
    });
    return {
      latency: encodeHistogram(this.latency),
      lag: this.lag === null ? null : encodeHistogram(this.lag),
      requests: this.requests,
      sent: this.sent,
      bytesRead: this.bytesRead,
      errors: { ...this.errors },
      statusCounts,
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
  /** Constant-rate mode: requests whose intended time fell inside the run (sent or not). */
  scheduled: number;
  startedAtEpochMs: number;
  endedAtEpochMs: number;
}
