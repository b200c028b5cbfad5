/**
 * The health of one host under one active check, as Envoy's HealthCheckerImplBase session keeps
 * it: consecutive successes and failures against the thresholds, and the delay before the next
 * check (interval, unhealthy_interval, the edge intervals right after a transition, plus jitter).
 *
 * Hosts start healthy (Envoy starts them failed and holds cluster warm-up until the first round;
 * Legate serves at once and lets failures take hosts out).
 */
import type { HealthCheckConfig } from '../../config/bootstrap';

/**
 * What one check found. `failure`: the host answered wrongly (HTTP status outside
 * expected_statuses): unhealthy at once. `retriable_failure` (status in retriable_statuses) and
 * `network_failure` (connect error, reset, timeout): unhealthy after unhealthy_threshold in a row.
 */
export type CheckOutcome = 'success' | 'failure' | 'retriable_failure' | 'network_failure';

export class HealthState {
  healthy = true;
  private successes = 0;
  private failures = 0;
  /** The last `record` flipped `healthy` (the next delay is an edge interval). */
  private changed = false;

  constructor(
    private readonly config: HealthCheckConfig,
    /** Uniform in [0, 1). */
    private readonly random: () => number,
  ) {}

  /** Applies one outcome; returns whether `healthy` flipped. */
  record(outcome: CheckOutcome): boolean {
    const wasHealthy = this.healthy;
    if (outcome === 'success') {
      this.failures = 0;
      this.successes++;
      if (!this.healthy && this.successes >= this.config.healthyThreshold) this.healthy = true;
    } else {
      this.successes = 0;
      this.failures++;
      if (outcome === 'failure' || this.failures >= this.config.unhealthyThreshold) this.healthy = false;
    }
    this.changed = this.healthy !== wasHealthy;
    return this.changed;
  }

  /** Delay before the first check: a random share of initial_jitter. */
  firstDelayMs(): number {
    return Math.floor(this.random() * this.config.initialJitterMs);
  }

  /** Delay from the end of a check to the next one, for the state `record` left. */
  nextDelayMs(): number {
    const c = this.config;
    let base: number;
    if (this.healthy) base = this.changed ? c.healthyEdgeIntervalMs : c.intervalMs;
    else base = this.changed ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    let delay = base;
    if (c.intervalJitterPercent > 0)
      delay += Math.floor(this.random() * ((c.intervalJitterPercent * base) / 100));
    if (c.intervalJitterMs > 0) delay += Math.floor(this.random() * c.intervalJitterMs);
    return delay;
  }
}
