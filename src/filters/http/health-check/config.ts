/** Parses `envoy.extensions.filters.http.health_check.v3.HealthCheck`. */
import type { HeaderMatcher } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { parseHeaderMatcher } from '../../../config/route/route-match';
import { rejectUnsupported } from '../../../config/unsupported';

export interface HealthCheckConfig {
  /** true: matching requests go upstream (only /healthcheck/fail is answered locally). */
  passThroughMode: boolean;
  /** Every matcher must match for a request to be a health check (`:path`, `:method`, `:authority` allowed). */
  headers: HeaderMatcher[];
  /** Pass-through mode: answer health checks with the last upstream status for this long; 0 = off. */
  cacheTimeMs: number;
}

const UNSUPPORTED_FIELDS = ['cluster_min_healthy_percentages'] as const;

export function parseHealthCheck(r: ObjectReader | null): HealthCheckConfig {
  if (!r) throw new Error('health_check: parseConfig needs a reader (pass_through_mode is required)');
  rejectUnsupported(r, UNSUPPORTED_FIELDS);
  if (!r.has('pass_through_mode')) r.error('pass_through_mode', 'required');
  const passThroughMode = r.bool('pass_through_mode', false);
  const cacheTimeMs = r.durationMs('cache_time', 0);
  // Envoy's check: without pass-through every health check is answered locally, nothing to cache.
  if (cacheTimeMs > 0 && !passThroughMode)
    r.error('cache_time', 'must not be set when pass_through_mode is false');
  return {
    passThroughMode,
    headers: r.objectArray('headers').map(parseHeaderMatcher),
    cacheTimeMs,
  };
}
