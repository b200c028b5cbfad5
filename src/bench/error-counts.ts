/**
 * Error counts by kind, the unit every report (totals, per-second timeline, wrk's output) shares.
 */

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
