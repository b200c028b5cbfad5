/**
 * A request's retry budget and back-off under a route's `retry_policy` (Envoy's RetryStateImpl):
 * decides whether an outcome is retriable under `retry_on`, counts attempts against
 * `num_retries`, and waits a jittered exponential back-off (base 25 ms, capped at 10× base by
 * default) before the next attempt.
 */
import type { RetryPolicy } from '../../../config/bootstrap';
import type { TimeoutTarget, TimerWheel } from '../../../common/timer-wheel';

export type RetryTrigger = 'status' | 'reset' | 'connect-failure' | 'timeout';

export interface Retryable {
  retryNow(): void;
}

export class RetryState implements TimeoutTarget {
  attempts = 0;
  timerDeadline = 0;
  timerBucket = -1;
  private target: Retryable | null = null;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly random: () => number,
  ) {}

  shouldRetry(trigger: RetryTrigger, status: number): boolean {
    if (this.attempts >= this.policy.numRetries) return false;
    const on = this.policy.retryOn;
    for (let i = 0; i < on.length; i++) if (matches(on[i]!, trigger, status, this.policy)) return true;
    return false;
  }

  /** Counts the attempt and calls `target.retryNow()` after the back-off. */
  schedule(timers: TimerWheel, target: Retryable): void {
    this.attempts++;
    this.target = target;
    const ceiling = Math.min(this.policy.backOffBaseMs * 2 ** (this.attempts - 1), this.policy.backOffMaxMs);
    const delay = Math.max(1, Math.floor(this.random() * ceiling));
    timers.arm(this, delay);
  }

  cancelTimer(timers: TimerWheel): void {
    timers.disarm(this);
    this.target = null;
  }

  onTimeout(): void {
    const t = this.target;
    this.target = null;
    t?.retryNow();
  }
}

function matches(on: string, trigger: RetryTrigger, status: number, policy: RetryPolicy): boolean {
  switch (on) {
    case '5xx':
      return trigger !== 'status' || status >= 500;
    case 'gateway-error':
      return trigger === 'timeout' || (trigger === 'status' && status >= 502 && status <= 504);
    case 'reset':
      return trigger === 'reset' || trigger === 'timeout';
    case 'connect-failure':
      return trigger === 'connect-failure';
    case 'retriable-4xx':
      return trigger === 'status' && status === 409;
    case 'retriable-status-codes':
      return trigger === 'status' && policy.retriableStatusCodes.includes(status);
    default:
      return false;
  }
}
