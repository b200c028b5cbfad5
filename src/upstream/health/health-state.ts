/**
 * The health of one host under one active check, as Envoy's ActiveHealthCheckSession keeps it
 * (`health_checker_base_impl.cc`): consecutive successes and failures against the thresholds, and
 * the delay before the next check.
 *
 * A host starts failed (Envoy's FAILED_ACTIVE_HC + PENDING_ACTIVE_HC): its first check decides at
 * once (one success makes it healthy, bypassing healthy_threshold), later ones count toward the
 * thresholds. The next delay depends on what the last check found and on whether it left a
 * transition pending, as Envoy's `interval()` does: a failure of a still-healthy host (below
 * unhealthy_threshold) waits unhealthy_edge_interval, a success of a still-failed host
 * healthy_edge_interval; otherwise interval or unhealthy_interval — and no_traffic_interval (or
 * no_traffic_healthy_interval) as long as the cluster has never had traffic.
 */
import type { HealthCheckConfig } from '../../config/bootstrap';

/**
 * What one check found. `failure`: the host answered wrongly (HTTP status outside
 * expected_statuses): unhealthy at once. `retriable_failure` (status in retriable_statuses),
 * `network_failure` (connect error, reset) and `network_timeout` (no verdict within `timeout`):
 * unhealthy after unhealthy_threshold in a row.
 */
export type CheckOutcome =
  'success' | 'failure' | 'retriable_failure' | 'network_failure' | 'network_timeout';

/**
 * Envoy's HealthTransition: the host's health flipped (`changed`; also the first check, which
 * clears the pending flag), a flip is under way but below its threshold (`pending`), or neither.
 */
export type HealthTransition = 'unchanged' | 'changed' | 'pending';

export class HealthState {
  /** Not failed_active_hc. Starts false: a host is unhealthy until a check says otherwise. */
  healthy = false;
  /** No check has completed yet (Envoy's first_check_). */
  firstCheck = true;
  private successes = 0;
  private failures = 0;
  /** What the last `record` saw, for `nextDelayMs`. */
  private lastPassed = false;
  private lastTransition: HealthTransition = 'unchanged';

  constructor(
    private readonly config: HealthCheckConfig,
    /** Uniform in [0, 1). */
    private readonly random: () => number,
  ) {}

  /** Applies one outcome and returns the transition it caused. */
  record(outcome: CheckOutcome): HealthTransition {
    const c = this.config;
    let t: HealthTransition = 'unchanged';
    if (outcome === 'success') {
      this.failures = 0;
      if (!this.healthy) {
        if (this.firstCheck || ++this.successes >= c.healthyThreshold) {
          this.healthy = true;
          t = 'changed';
        } else t = 'pending';
      }
    } else {
      this.successes = 0;
      if (this.healthy) {
        if (outcome === 'failure' || ++this.failures >= c.unhealthyThreshold) {
          this.healthy = false;
          t = 'changed';
        } else t = 'pending';
      }
    }
    if (this.firstCheck) t = 'changed';
    this.firstCheck = false;
    this.lastPassed = outcome === 'success';
    this.lastTransition = t;
    return t;
  }

  /** Delay before the first check: none, or a random share of initial_jitter. */
  firstDelayMs(): number {
    return this.config.initialJitterMs === 0 ? 0 : this.withJitter(0, this.config.initialJitterMs);
  }

  /** Delay from the end of a check to the next one, for what `record` last saw. */
  nextDelayMs(clusterHadTraffic: boolean): number {
    const c = this.config;
    const pending = this.lastTransition === 'pending';
    let base: number;
    if (!clusterHadTraffic)
      base = this.lastPassed && !pending ? c.noTrafficHealthyIntervalMs : c.noTrafficIntervalMs;
    else if (this.lastPassed) base = pending ? c.healthyEdgeIntervalMs : c.intervalMs;
    else base = pending ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    return this.withJitter(base, c.intervalJitterMs);
  }

  /** `base` plus a random share of interval_jitter_percent of it and of `jitterMs`; at least 1 ms. */
  private withJitter(base: number, jitterMs: number): number {
    const percentShare = Math.floor((this.config.intervalJitterPercent * base) / 100);
    let delay = base;
    if (percentShare > 0) delay += Math.floor(this.random() * percentShare);
    if (jitterMs > 0) delay += Math.floor(this.random() * jitterMs);
    return Math.max(1, delay);
  }
}
