/**
 * Parses `envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`, as the filter's config
 * and as a per-route config (`typed_per_filter_config`), where Envoy requires a `token_bucket`.
 */
import type { ObjectReader } from '../../../config/config-reader';
import { parseHeadersToAdd } from '../../../config/route/header-mutations';
import { runtimeFractionalPercent } from '../../../config/runtime';
import { rejectUnsupported } from '../../../config/unsupported';
import { createTokenBucketState, type TokenBucketState } from '../../common/local-ratelimit/token-bucket';
import { UNLIMITED_TOKEN_BUCKET, parseTokenBucket } from '../../common/local-ratelimit/token-bucket-config';

export interface LocalRateLimitConfig {
  statPrefix: string;
  /**
   * Shared by every worker (a SharedArrayBuffer inside): one budget per configured filter or
   * per-route config. With `perConnection`, only its parameters are used, for each connection's own.
   */
  bucket: TokenBucketState;
  /** `local_rate_limit_per_downstream_connection`: a bucket per downstream connection instead. */
  perConnection: boolean;
  /** Fractions 0..1 of requests the filter checks / actually rejects. Envoy defaults both to 0 %. */
  filterEnabled: number;
  filterEnforced: number;
  status: number;
  /** Added verbatim to limited responses (%…% formatters are not evaluated here). */
  responseHeadersToAdd: { key: string; value: string }[];
}

const UNSUPPORTED_FIELDS = [
  'descriptors',
  'stage',
  'request_headers_to_add_when_not_enforced',
  'enable_x_ratelimit_headers',
  'vh_rate_limits',
  'always_consume_default_token_bucket',
  'rate_limited_as_resource_exhausted',
  'local_cluster_rate_limit',
  'rate_limits',
  'max_dynamic_descriptors',
] as const;

export function parseLocalRateLimit(r: ObjectReader | null): LocalRateLimitConfig {
  if (!r) throw new Error('local_ratelimit: parseConfig needs a reader (stat_prefix is required)');
  return parse(r, false);
}

export function parseLocalRateLimitPerRoute(r: ObjectReader): LocalRateLimitConfig {
  return parse(r, true);
}

function parse(r: ObjectReader, perRoute: boolean): LocalRateLimitConfig {
  rejectUnsupported(r, UNSUPPORTED_FIELDS);
  const statPrefix = r.requiredString('stat_prefix');
  return {
    statPrefix,
    bucket: parseBucket(r, perRoute),
    perConnection: r.bool('local_rate_limit_per_downstream_connection', false),
    filterEnabled: runtimeFractionalPercent(r, 'filter_enabled', 0),
    filterEnforced: runtimeFractionalPercent(r, 'filter_enforced', 0),
    status: r.object('status')?.uint('code', 429, { min: 200, max: 599 }) ?? 429,
    responseHeadersToAdd: parseHeadersToAdd(r, 'response').map(({ key, value }) => ({ key, value })),
  };
}

/**
 * `token_bucket` is optional on the filter: without it (and without descriptors, unsupported here)
 * Envoy's filter never limits, which an effectively infinite bucket models. A per-route config must
 * have one (Envoy: "local rate limit token bucket must be set for per filter configs").
 */
function parseBucket(r: ObjectReader, perRoute: boolean): TokenBucketState {
  if (perRoute && !r.has('token_bucket'))
    r.error('token_bucket', 'required in a per-route (typed_per_filter_config) local_ratelimit');
  const tb = r.object('token_bucket');
  return createTokenBucketState(tb ? parseTokenBucket(tb) : UNLIMITED_TOKEN_BUCKET, Date.now());
}
