/**
 * Coarse timeouts for the data plane (Pingora's timer wheel, undici's fast timers): one interval per
 * thread drives every route timeout, idle timeout and connect timeout. Arming and cancelling are O(1)
 * and allocate nothing: each bucket is an intrusive doubly-linked list through the targets' own
 * `timerPrev`/`timerNext` fields, where `setTimeout` per request would create a timer object and a
 * closure each time.
 *
 * Not a Set per bucket: a Set's table is reallocated as it grows and shrinks under churn, and the
 * tables, promoted to the old generation, kept the young requests they had listed alive through
 * every scavenge until the next full GC (a third of what a proxied request allocated survived a
 * scavenge). A target that leaves a bucket clears its links, so nothing dead points at it.
 *
 * Precision is one tick (TICK_MS): a 15 s route timeout fires between 15.00 and 15.05 s.
 */
export interface TimeoutTarget {
  /** Monotonic deadline in ms; set by `arm`, read by the wheel. */
  timerDeadline: number;
  /** Bucket the target sits in, or -1; owned by the wheel, as are the two links. */
  timerBucket: number;
  timerPrev: TimeoutTarget | null;
  timerNext: TimeoutTarget | null;
  onTimeout(): void;
}

/** The wheel's resolution: a timeout fires on the first tick at or after its deadline. */
export const TIMER_TICK_MS = 50;
const TICK_MS = TIMER_TICK_MS;
const BUCKETS = 256; // one revolution = 12.8 s; longer deadlines go around again

export class TimerWheel {
  /** The first target of each bucket's list. */
  private readonly buckets: (TimeoutTarget | null)[] = new Array<TimeoutTarget | null>(BUCKETS).fill(null);
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
    // Never the cursor's own bucket: a target armed while that bucket fires waits for its turn.
    const bucket = (this.cursor + Math.min(slots, BUCKETS - 1)) % BUCKETS;
    const first = this.buckets[bucket]!;
    target.timerBucket = bucket;
    target.timerNext = first;
    if (first !== null) first.timerPrev = target;
    this.buckets[bucket] = target;
    this.armed++;
  }

  disarm(target: TimeoutTarget): void {
    if (target.timerBucket < 0) return;
    const prev = target.timerPrev;
    const next = target.timerNext;
    if (prev === null) this.buckets[target.timerBucket] = next;
    else prev.timerNext = next;
    if (next !== null) next.timerPrev = prev;
    target.timerPrev = null;
    target.timerNext = null;
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
    const now = this.now();
    // Always take the bucket's first target: a callback may disarm any other one, and what it
    // arms lands in other buckets, so this ends.
    let target: TimeoutTarget | null;
    while ((target = this.buckets[this.cursor]!) !== null) {
      this.disarm(target);
      // Not due yet: it went around the wheel; move it forward again.
      if (target.timerDeadline > now) this.arm(target, target.timerDeadline - now);
      else target.onTimeout();
    }
  }
}

/** Process-wide monotonic milliseconds (same origin in every thread, unlike performance.now()). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
