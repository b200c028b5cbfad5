/**
 * A request's retry budget and back-off under a route's `retry_policy` (Envoy's RetryStateImpl):
 * decides whether an outcome is retriable under `retry_on`, counts attempts against
 * `num_retries`, and waits a jittered exponential back-off (base 25 ms, capped at 10× base by
 * default) before the next attempt.
 *
 * Each scheduled retry also takes a unit of the cluster's retry circuit breaker (max_retries, or the
 * retry budget; global across workers), held until the retry's outcome is known (the next
 * `shouldRetry`, `release`, or the end of the request), as Envoy's RetryStateImpl does; with none
 * left the retry is refused as an overflow (`upstream_rq_retry_overflow`, response flag UO).
 * A retriable outcome with no retry left is `LimitExceeded` (response flag URX); an outcome that is
 * not retriable while a retry is in flight counts `upstream_rq_retry_success`, as Envoy counts it.
 */
import type { RetryPolicy } from '../../../config/bootstrap';
import type { TimeoutTarget, TimerWheel } from '../../../common/timer-wheel';
import type { CircuitBreaker } from '../../../upstream/circuit-breakers';
import type { Counter } from '../../../stats/store';
import { GRPC_RETRY_CONDITIONS } from '../../../http/grpc';

export type RetryTrigger = 'status' | 'reset' | 'refused-stream' | 'connect-failure' | 'timeout';

export const RetryDecision = {
  No: 0,
  Retry: 1,
  /** Retriable, but the cluster's retry circuit breaker is open. */
  Overflow: 2,
  /** Retriable, but num_retries are used up. */
  LimitExceeded: 3,
} as const;
export type RetryDecision = (typeof RetryDecision)[keyof typeof RetryDecision];

export interface Retryable {
  retryNow(): void;
}

export class RetryState implements TimeoutTarget {
  attempts = 0;
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  private target: Retryable | null = null;
  /** This request holds a unit of the retry circuit breaker (a retry is scheduled or in flight). */
  private holdsRetry = false;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly random: () => number,
    private readonly breaker: CircuitBreaker,
    /** upstream_rq_retry_success of the cluster. */
    private readonly successes: Counter,
  ) {}

  /**
   * Called with each attempt's outcome; on `Retry` the caller must `schedule` the retry.
   * `grpcStatus`: a response head's grpc-status (trailers-only gRPC responses), else -1.
   */
  shouldRetry(trigger: RetryTrigger, status: number, grpcStatus = -1): RetryDecision {
    const retryInFlight = this.holdsRetry;
    this.release();
    if (!this.retriable(trigger, status, grpcStatus)) {
      if (retryInFlight) this.successes.inc();
      return RetryDecision.No;
    }
    if (this.attempts >= this.policy.numRetries) return RetryDecision.LimitExceeded;
    if (!this.breaker.tryStartRetry()) return RetryDecision.Overflow;
    this.holdsRetry = true;
    return RetryDecision.Retry;
  }

  /**
   * Whether a response head of `status` may be an outcome `retry_on` retries (with retries left or
   * not): gRPC conditions need the head's grpc-status, so any head may be one then.
   */
  retriesOnStatus(status: number): boolean {
    return this.policy.retriesOnGrpcStatus || this.retriable('status', status, -1);
  }

  private retriable(trigger: RetryTrigger, status: number, grpcStatus: number): boolean {
    const on = this.policy.retryOn;
    for (let i = 0; i < on.length; i++)
      if (matches(on[i]!, trigger, status, grpcStatus, this.policy)) return true;
    return false;
  }

  /** The last retry's outcome is known (or the request is over): give back its breaker unit. */
  release(): void {
    if (!this.holdsRetry) return;
    this.holdsRetry = false;
    this.breaker.endRetry();
  }

  /** Counts the attempt and calls `target.retryNow()` after the back-off. */
  schedule(timers: TimerWheel, target: Retryable): void {
    this.attempts++;
    this.target = target;
    const ceiling = Math.min(this.policy.backOffBaseMs * 2 ** (this.attempts - 1), this.policy.backOffMaxMs);
    const delay = Math.max(1, Math.floor(this.random() * ceiling));
    timers.arm(this, delay);
  }

  /** The request is over: no retry will run. */
  cancelTimer(timers: TimerWheel): void {
    timers.disarm(this);
    this.target = null;
    this.release();
  }

  onTimeout(): void {
    const t = this.target;
    this.target = null;
    t?.retryNow();
  }
}

/**
 * As Envoy's RetryStateImpl: `5xx`, `gateway-error` and `reset` retry every attempt that got no
 * response (a reset, a connect failure, a per-try timeout: "we count an upstream reset as a 5xx");
 * `connect-failure` only connect failures, `refused-stream` only streams an HTTP/2 upstream refused.
 */
function matches(
  on: string,
  trigger: RetryTrigger,
  status: number,
  grpcStatus: number,
  policy: RetryPolicy,
): boolean {
  const grpc = GRPC_RETRY_CONDITIONS[on];
  if (grpc !== undefined) return trigger === 'status' && grpcStatus === grpc;
  switch (on) {
    case '5xx':
      return trigger !== 'status' || status >= 500;
    case 'gateway-error':
      return trigger !== 'status' || (status >= 502 && status <= 504);
    case 'reset':
      return trigger !== 'status';
    case 'connect-failure':
      return trigger === 'connect-failure';
    case 'refused-stream':
      return trigger === 'refused-stream';
    case 'retriable-4xx':
      return trigger === 'status' && status === 409;
    case 'retriable-status-codes':
      return trigger === 'status' && policy.retriableStatusCodes.includes(status);
    default:
      return false;
  }
}
