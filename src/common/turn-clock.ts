/**
 * Monotonic milliseconds read at most once per turn of the event loop: the first read in a
 * macrotask reads the clock, later reads in the same task (and its microtasks) get that value.
 *
 * Why: reading the clock costs ~250–300 ns on this project's VMs (perf/request-path.ts; the
 * clocksource is not a cheap vDSO read there), and one proxied request read it six times or more
 * (stream start, timers armed, upstream service time, stream end). A request's events each run in
 * one task, so they share one read; durations keep millisecond precision across tasks, which is
 * what the stats and timers need. Cross-thread stamps that need sub-millisecond precision (Peak
 * EWMA) use precise-clock.ts instead.
 */
import { monotonicMs } from './timer-wheel';

let cached = -1;

function expire(): void {
  cached = -1;
}

export function turnMonotonicMs(): number {
  if (cached < 0) {
    cached = monotonicMs();
    queueMicrotask(expire);
  }
  return cached;
}
