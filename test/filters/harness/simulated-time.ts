/**
 * Time the test advances by hand (Envoy's SimulatedTimeSystem): a monotonic clock and the worker's
 * real TimerWheel in manual mode, ticked every TIMER_TICK_MS of simulated time. Timeouts therefore
 * fire exactly as in a worker: on the first wheel tick at or after their deadline.
 */
import { TIMER_TICK_MS, TimerWheel } from '../../../src/common/timer-wheel';

export class SimulatedTime {
  /** Starts well above 0 so "no deadline" (0) is never a valid simulated instant. */
  private ms = 1_000_000;
  /** Simulated ms since the last wheel tick. */
  private sinceTick = 0;
  readonly now = (): number => this.ms;
  readonly timers = new TimerWheel(this.now, 'manual');

  /** Moves the clock forward by `ms` (>= 0), ticking the wheel at every TIMER_TICK_MS boundary on the way. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`cannot advance time by ${ms} ms`);
    let left = ms;
    while (left > 0) {
      const step = Math.min(left, TIMER_TICK_MS - this.sinceTick);
      this.ms += step;
      this.sinceTick += step;
      left -= step;
      if (this.sinceTick === TIMER_TICK_MS) {
        this.sinceTick = 0;
        this.timers.tick();
      }
    }
  }

  /** Advances to the next wheel tick (fires whatever is due by then). */
  advanceToNextTick(): void {
    this.advance(TIMER_TICK_MS - this.sinceTick);
  }

  close(): void {
    this.timers.close();
  }
}
