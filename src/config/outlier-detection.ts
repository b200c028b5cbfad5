/**
 * A cluster's `outlier_detection` (Envoy's `config.cluster.v3.OutlierDetection`): the three
 * consecutive-error detectors, the success-rate and failure-percentage detectors, and the ejection
 * timing, each field defaulting as in Envoy. Fields Legate does not implement are a "not supported
 * by Legate yet" error, never silently ignored.
 */
import type { OutlierDetectionConfig } from './bootstrap';
import type { ObjectReader } from './config-reader';
import { rejectUnsupported } from './unsupported';

const UNSUPPORTED_OUTLIER_FIELDS = ['monitors', 'detector_event_log_path'] as const;

const PERCENT = { max: 100 };

/** Reads `outlier_detection` (null when absent: the cluster has no outlier detection). */
export function parseOutlierDetection(r: ObjectReader | null): OutlierDetectionConfig | null {
  if (r === null) return null;
  rejectUnsupported(r, UNSUPPORTED_OUTLIER_FIELDS);
  const intervalMs = r.durationMs('interval', 10_000);
  if (intervalMs <= 0) r.error('interval', 'must be greater than 0s');
  const baseEjectionTimeMs = r.durationMs('base_ejection_time', 30_000);
  if (baseEjectionTimeMs <= 0) r.error('base_ejection_time', 'must be greater than 0s');
  return {
    intervalMs,
    baseEjectionTimeMs,
    // Envoy: the cap is max(base_ejection_time, max_ejection_time).
    maxEjectionTimeMs: Math.max(baseEjectionTimeMs, r.durationMs('max_ejection_time', 300_000)),
    maxEjectionPercent: r.wrappedUint('max_ejection_percent', 10, PERCENT),
    maxEjectionTimeJitterMs: r.durationMs('max_ejection_time_jitter', 0),
    alwaysEjectOneHost: wrappedBool(r, 'always_eject_one_host', false),
    successfulActiveHealthCheckUnejectHost: wrappedBool(
      r,
      'successful_active_health_check_uneject_host',
      true,
    ),
    consecutive5xx: r.wrappedUint('consecutive_5xx', 5),
    enforcingConsecutive5xx: r.wrappedUint('enforcing_consecutive_5xx', 100, PERCENT),
    consecutiveGatewayFailure: r.wrappedUint('consecutive_gateway_failure', 5),
    enforcingConsecutiveGatewayFailure: r.wrappedUint('enforcing_consecutive_gateway_failure', 0, PERCENT),
    splitExternalLocalOriginErrors: r.bool('split_external_local_origin_errors', false),
    consecutiveLocalOriginFailure: r.wrappedUint('consecutive_local_origin_failure', 5),
    enforcingConsecutiveLocalOriginFailure: r.wrappedUint(
      'enforcing_consecutive_local_origin_failure',
      100,
      PERCENT,
    ),
    successRateMinimumHosts: r.wrappedUint('success_rate_minimum_hosts', 5),
    successRateRequestVolume: r.wrappedUint('success_rate_request_volume', 100),
    successRateStdevFactor: r.wrappedUint('success_rate_stdev_factor', 1900),
    enforcingSuccessRate: r.wrappedUint('enforcing_success_rate', 100, PERCENT),
    enforcingLocalOriginSuccessRate: r.wrappedUint('enforcing_local_origin_success_rate', 100, PERCENT),
    failurePercentageThreshold: r.wrappedUint('failure_percentage_threshold', 85, PERCENT),
    failurePercentageMinimumHosts: r.wrappedUint('failure_percentage_minimum_hosts', 5),
    failurePercentageRequestVolume: r.wrappedUint('failure_percentage_request_volume', 50),
    enforcingFailurePercentage: r.wrappedUint('enforcing_failure_percentage', 0, PERCENT),
    enforcingFailurePercentageLocalOrigin: r.wrappedUint(
      'enforcing_failure_percentage_local_origin',
      0,
      PERCENT,
    ),
  };
}

/** google.protobuf.BoolValue as written in YAML: a bare boolean or `{ value: B }`. */
function wrappedBool(r: ObjectReader, field: string, dflt: boolean): boolean {
  const raw = r.raw(field);
  if (raw !== null && typeof raw === 'object') return r.object(field)!.bool('value', dflt);
  return r.bool(field, dflt);
}
