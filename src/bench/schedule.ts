/**
 * Constant-rate (wrk2-style) timeline arithmetic. The total rate R is split evenly over C
 * connections: every connection sends one request per `C / R` seconds, and connection i starts
 * `i / R` seconds into the run, so the union of all timelines is an even grid of one request per
 * `1 / R` seconds. Latency is measured from these intended times, not from when a request was
 * actually written, so a stalled server (or a busy connection) shows up as latency instead of
 * silently lowering the request rate (coordinated omission).
 */

/**
 * One connection's fixed timeline: the intended send time of its k-th request is
 * `start + offset + k * interval`. The start is set when the run begins (`startAt`).
 */
export class ConnectionSchedule {
  /** Index of the next request to send on this connection. */
  next = 0;
  /** Intended time of request 0, in the generator thread's `performance.now()` milliseconds. */
  private firstAt = 0;

  constructor(
    readonly offsetMs: number,
    readonly intervalMs: number,
  ) {}

  startAt(start: number): void {
    this.firstAt = start + this.offsetMs;
    this.next = 0;
  }

  /** Intended send time of the next request. */
  dueAt(): number {
    return this.firstAt + this.next * this.intervalMs;
  }

  /** Consumes the next slot and returns its intended time. */
  take(): number {
    const t = this.firstAt + this.next * this.intervalMs;
    this.next++;
    return t;
  }

  /** Requests whose intended time is before `end` (sent or not). */
  scheduledBefore(end: number): number {
    if (end <= this.firstAt) return 0;
    return Math.ceil((end - this.firstAt) / this.intervalMs);
  }
}

/** The schedule of global connection `index` (0-based) of `connections`, for a total `rate` in requests/s. */
export function connectionSchedule(rate: number, connections: number, index: number): ConnectionSchedule {
  return new ConnectionSchedule((index * 1000) / rate, (1000 * connections) / rate);
}

/** Splits `total` into `parts` integers differing by at most one (larger ones first). */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}
