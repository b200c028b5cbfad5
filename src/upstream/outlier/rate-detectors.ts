/**
 * The success-rate and failure-percentage detectors (Envoy's
 * `DetectorImpl::processSuccessRateEjections`), as pure functions of one interval's per-host
 * request counts, so the statistics are testable without a clock or a host table.
 *
 * - success rate: among hosts with at least `success_rate_request_volume` requests, when there are
 *   at least `success_rate_minimum_hosts` of them, a host whose success rate is below
 *   mean − (success_rate_stdev_factor / 1000) · stdev (population stdev) is an outlier;
 * - failure percentage: among hosts with at least `failure_percentage_request_volume` requests,
 *   when there are at least `failure_percentage_minimum_hosts` of them, a host whose failure
 *   percentage is at least `failure_percentage_threshold` is an outlier.
 * Both run once for external-origin counts and, with split_external_local_origin_errors, once for
 * local-origin ones (their `local_origin_*` ejection types). What they computed (each host's
 * rate, the mean and the threshold) is kept by the detector for `/clusters`.
 */
import type { OutlierDetectionConfig } from '../../config/bootstrap';
import type { RateType } from './ejection-types';

/** One host's outcome over the last interval (hosts with no request are left out). */
export interface HostRate {
  readonly slot: number;
  readonly requests: number;
  /** Percent, 0–100. */
  readonly successRate: number;
}

export interface RateOutlier {
  readonly slot: number;
  readonly type: RateType;
}

export type Origin = 'external' | 'local';

/**
 * Whether either detector can ever fire in a cluster of `hostCount` hosts: Envoy skips both when
 * the cluster has fewer hosts than both minimums. Workers use it to skip counting altogether.
 */
export function rateDetectorsCanFire(c: OutlierDetectionConfig, hostCount: number): boolean {
  return hostCount >= c.successRateMinimumHosts || hostCount >= c.failurePercentageMinimumHosts;
}

/** The success-rate detector's numbers (Envoy's `SuccessRateNums`); -1 when it did not run. */
export interface SuccessRateNums {
  /** Mean success rate of the hosts with enough request volume. */
  readonly average: number;
  /** average − factor · stdev: hosts below it are outliers. */
  readonly ejectionThreshold: number;
}

export const NOT_COMPUTED: SuccessRateNums = { average: -1, ejectionThreshold: -1 };

/** What one interval's counts gave for one origin (what `/clusters` shows, and who is ejected). */
export interface RateVerdict {
  readonly outliers: RateOutlier[];
  readonly successRate: SuccessRateNums;
  /**
   * The hosts whose success rate Envoy records for the interval: those with at least the smaller
   * of the two request volumes, when the cluster is large enough for either detector.
   */
  readonly rated: HostRate[];
}

/** mean and mean − factor · stdev of the hosts' success rates (Envoy's successRateEjectionThreshold). */
export function successRateNums(hosts: readonly HostRate[], factor: number): SuccessRateNums {
  let sum = 0;
  for (const h of hosts) sum += h.successRate;
  const mean = sum / hosts.length;
  let variance = 0;
  for (const h of hosts) variance += (h.successRate - mean) ** 2;
  return { average: mean, ejectionThreshold: mean - factor * Math.sqrt(variance / hosts.length) };
}

/**
 * One interval for one origin, in Envoy's order: success-rate outliers first, then
 * failure-percentage ones (a host may appear under both; the detector ejects it once).
 */
export function rateVerdict(
  c: OutlierDetectionConfig,
  origin: Origin,
  rates: readonly HostRate[],
  hostCount: number,
): RateVerdict {
  const outliers: RateOutlier[] = [];
  if (!rateDetectorsCanFire(c, hostCount)) return { outliers, successRate: NOT_COMPUTED, rated: [] };
  const local = origin === 'local';
  const minVolume = Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume);
  const rated = rates.filter((h) => h.requests >= minVolume);
  let successRate = NOT_COMPUTED;
  const srHosts = rates.filter((h) => h.requests >= c.successRateRequestVolume);
  if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
    successRate = successRateNums(srHosts, c.successRateStdevFactor / 1000);
    const type = local ? 'local_origin_success_rate' : 'success_rate';
    for (const h of srHosts) {
      if (h.successRate < successRate.ejectionThreshold) outliers.push({ slot: h.slot, type });
    }
  }
  const fpHosts = rates.filter((h) => h.requests >= c.failurePercentageRequestVolume);
  if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
    const type = local ? 'local_origin_failure_percentage' : 'failure_percentage';
    for (const h of fpHosts) {
      if (100 - h.successRate >= c.failurePercentageThreshold) outliers.push({ slot: h.slot, type });
    }
  }
  return { outliers, successRate, rated };
}
