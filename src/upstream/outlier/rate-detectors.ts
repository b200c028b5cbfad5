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
 * local-origin ones (their `local_origin_*` ejection types).
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

/** mean − factor · stdev of the hosts' success rates (Envoy's successRateEjectionThreshold). */
export function successRateThreshold(hosts: readonly HostRate[], factor: number): number {
  let sum = 0;
  for (const h of hosts) sum += h.successRate;
  const mean = sum / hosts.length;
  let variance = 0;
  for (const h of hosts) variance += (h.successRate - mean) ** 2;
  return mean - factor * Math.sqrt(variance / hosts.length);
}

/**
 * The outliers of one interval for one origin, in Envoy's order: success-rate outliers first, then
 * failure-percentage ones (a host may appear under both; the detector ejects it once).
 */
export function rateOutliers(
  c: OutlierDetectionConfig,
  origin: Origin,
  rates: readonly HostRate[],
  hostCount: number,
): RateOutlier[] {
  const outliers: RateOutlier[] = [];
  if (!rateDetectorsCanFire(c, hostCount)) return outliers;
  const local = origin === 'local';
  const srHosts = rates.filter((h) => h.requests >= c.successRateRequestVolume);
  if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
    const threshold = successRateThreshold(srHosts, c.successRateStdevFactor / 1000);
    const type = local ? 'local_origin_success_rate' : 'success_rate';
    for (const h of srHosts) if (h.successRate < threshold) outliers.push({ slot: h.slot, type });
  }
  const fpHosts = rates.filter((h) => h.requests >= c.failurePercentageRequestVolume);
  if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
    const type = local ? 'local_origin_failure_percentage' : 'failure_percentage';
    for (const h of fpHosts) {
      if (100 - h.successRate >= c.failurePercentageThreshold) outliers.push({ slot: h.slot, type });
    }
  }
  return outliers;
}
