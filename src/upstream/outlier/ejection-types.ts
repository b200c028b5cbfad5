/**
 * The kinds of outlier ejection, named as in Envoy's `OutlierEjectionType` and its stats
 * (`cluster.<c>.outlier_detection.ejections_{detected,enforced}_<type>`), and the enforcement
 * percentage that applies to each.
 */
import type { OutlierDetectionConfig } from '../../config/bootstrap';

/** Detected by a worker the moment a run of errors reaches its threshold. */
export type ConsecutiveType =
  'consecutive_5xx' | 'consecutive_gateway_failure' | 'consecutive_local_origin_failure';

/** Detected by the primary's interval sweep over the per-interval request counts. */
export type RateType =
  'success_rate' | 'failure_percentage' | 'local_origin_success_rate' | 'local_origin_failure_percentage';

export type EjectionType = ConsecutiveType | RateType;

/** Every ejection type (the `<type>` of the ejections_{detected,enforced}_<type> stats). */
export const EJECTION_TYPES: readonly EjectionType[] = [
  'consecutive_5xx',
  'consecutive_gateway_failure',
  'consecutive_local_origin_failure',
  'success_rate',
  'failure_percentage',
  'local_origin_success_rate',
  'local_origin_failure_percentage',
];

/** The `enforcing_*` percentage of each ejection type. */
export function enforcingPercent(c: OutlierDetectionConfig, type: EjectionType): number {
  switch (type) {
    case 'consecutive_5xx':
      return c.enforcingConsecutive5xx;
    case 'consecutive_gateway_failure':
      return c.enforcingConsecutiveGatewayFailure;
    case 'consecutive_local_origin_failure':
      return c.enforcingConsecutiveLocalOriginFailure;
    case 'success_rate':
      return c.enforcingSuccessRate;
    case 'local_origin_success_rate':
      return c.enforcingLocalOriginSuccessRate;
    case 'failure_percentage':
      return c.enforcingFailurePercentage;
    case 'local_origin_failure_percentage':
      return c.enforcingFailurePercentageLocalOrigin;
  }
}
