/**
 * Fractional monotonic milliseconds from `process.hrtime` (the origin `monotonicMs` uses, shared by
 * every thread), for timestamps that cross threads and need sub-millisecond resolution: upstream
 * RTT samples and the stamps of the shared Peak EWMA estimates. `performance.now()` would count from
 * each thread's own start, and is no cheaper (perf/ewma.ts: ~41 ns for hrtime.bigint, ~46 ns for
 * performance.now()).
 */
export function preciseMonotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
