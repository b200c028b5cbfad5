/**
 * Coarse timeouts for the data plane (Pingora's timer wheel, undici's fast timers): one interval per
 * thread drives every route timeout, idle timeout and connect timeout. Arming and cancelling are O(1)
 * Set operations and allocate nothing (the armed object is its own entry), where `setTimeout` per
 * request would create a timer object and a closure each time.
 *
 * Precision is one tick (TICK_MS): a 15 s route timeout fires between 15.00 and 15.05 s.
 */
export interface TimeoutTarget {
  /** Monotonic deadline in ms; set by `arm`, read by the wheel. */
  timerDeadline: number;
  /** Bucket the target sits in, or -1; owned by the wheel. */
  timerBucket: number;
  onTimeout(): void;
}

/** The wheel's resolution: a timeout fires on the first tick at or after its deadline. */
export const TIMER_TICK_MS = 50;
const TICK_MS = TIMER_TICK_MS;
const BUCKETS = 256; // one revolution = 12.8 s; longer deadlines go around again

export class TimerWheel {
  private readonly buckets: Set<TimeoutTarget>[] = [];
  private cursor = 0;
  private readonly interval: NodeJS.Timeout | null = null;
  private armed = 0;

  /**
   * `driven: 'interval'` ticks every TICK_MS of real time; `'manual'` never ticks by itself: the
   * owner calls `tick()` (tests that simulate time advance their clock, then tick).
   */
  constructor(
    private readonly now: () => number = monotonicMs,
    driven: 'interval' | 'manual' = 'interval',
  ) {
    for (let i = 0; i < BUCKETS; i++) this.buckets.push(new Set());
    if (driven === 'manual') return;
    this.interval = setInterval(() => this.tick(), TICK_MS);
    this.interval.unref();
  }

  /** Arms (or re-arms) `target` to fire after `ms`. ms <= 0 disarms. */
  arm(target: TimeoutTarget, ms: number): void {
    this.disarm(target);
    if (ms <= 0) return;
    target.timerDeadline = this.now() + ms;
    const slots = Math.max(1, Math.ceil(ms / TICK_MS));
    const bucket = (this.cursor + Math.min(slots, BUCKETS - 1)) % BUCKETS;
    target.timerBucket = bucket;
    this.buckets[bucket]!.add(target);
    this.armed++;
  }

  disarm(target: TimeoutTarget): void {
    if (target.timerBucket < 0) return;
    this.buckets[target.timerBucket]!.delete(target);
    target.timerBucket = -1;
    this.armed--;
  }

  get size(): number {
    return this.armed;
  }

  close(): void {
    if (this.interval !== null) clearInterval(this.interval);
  }

  /** Moves the wheel one slot and fires the targets that are due (called every TICK_MS). */
  tick(): void {
    this.cursor = (this.cursor + 1) % BUCKETS;
    const bucket = this.buckets[this.cursor]!;
    if (bucket.size === 0) return;
    const now = this.now();
    for (const target of bucket) {
      if (target.timerDeadline > now) {
        // Not due yet: it went around the wheel; move it forward again.
        const remaining = target.timerDeadline - now;
        bucket.delete(target);
        this.armed--;
        target.timerBucket = -1;
        this.arm(target, remaining);
        continue;
      }
      bucket.delete(target);
      target.timerBucket = -1;
      this.armed--;
      target.onTimeout();
    }
  }
}

/** Process-wide monotonic milliseconds (same origin in every thread, unlike performance.now()). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
