/** Parses `envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`. */
import type { ObjectReader } from '../../../config/config-reader';
import { parseHeadersToAdd } from '../../../config/route/header-mutations';
import { rejectUnsupported } from '../../../config/unsupported';
import { createTokenBucketState, type TokenBucketState } from './token-bucket';

export interface LocalRateLimitConfig {
  statPrefix: string;
  /** Shared by every worker (a SharedArrayBuffer inside): one budget per configured filter. */
  bucket: TokenBucketState;
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
] as const;

export function parseLocalRateLimit(r: ObjectReader | null): LocalRateLimitConfig {
  if (!r) throw new Error('local_ratelimit: parseConfig needs a reader (stat_prefix is required)');
  rejectUnsupported(r, UNSUPPORTED_FIELDS);
  if (r.bool('local_rate_limit_per_downstream_connection', false))
    r.error('local_rate_limit_per_downstream_connection', 'not supported by Legate yet');
  const statPrefix = r.requiredString('stat_prefix');
  return {
    statPrefix,
    bucket: parseTokenBucket(r),
    filterEnabled: runtimeFraction(r, 'filter_enabled'),
    filterEnforced: runtimeFraction(r, 'filter_enforced'),
    status: r.object('status')?.uint('code', 429, { min: 200, max: 599 }) ?? 429,
    responseHeadersToAdd: parseHeadersToAdd(r, 'response').map(({ key, value }) => ({ key, value })),
  };
}

/**
 * `token_bucket` is optional in the proto but without it (or without `descriptors`) Envoy's filter
 * never limits; since descriptors are unsupported here, a missing bucket means "allow everything",
 * modelled as an effectively infinite bucket.
 */
function parseTokenBucket(r: ObjectReader): TokenBucketState {
  const tb = r.object('token_bucket');
  if (!tb) return createTokenBucketState(0x7fffffff, 0x7fffffff, 1000, Date.now());
  const maxTokens = tb.uint('max_tokens', 0, { min: 1, max: 0x7fffffff });
  if (!tb.has('max_tokens')) tb.error('max_tokens', 'required');
  const tokensPerFill = tb.wrappedUint('tokens_per_fill', 1, { min: 1, max: 0x7fffffff });
  if (!tb.has('fill_interval')) tb.error('fill_interval', 'required');
  const fillIntervalMs = tb.durationMs('fill_interval', 1000);
  if (fillIntervalMs < 1) tb.error('fill_interval', 'must be at least 1ms');
  return createTokenBucketState(maxTokens, tokensPerFill, Math.max(1, fillIntervalMs), Date.now());
}

/** RuntimeFractionalPercent: Legate has no runtime, so `runtime_key` is accepted and the default used. */
function runtimeFraction(r: ObjectReader, field: string): number {
  const f = r.object(field);
  if (!f) return 0;
  f.string('runtime_key', '');
  return f.fractionalPercent('default_value', 0);
}
