/**
 * Parses `envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`, as the filter's config
 * and as a per-route config (`typed_per_filter_config`), where Envoy requires a `token_bucket`.
 */
import { readBoolValue } from '../../../config/bool-value';
import type { ObjectReader } from '../../../config/config-reader';
import { parseHeadersToAdd } from '../../../config/route/header-mutations';
import { MAX_RATE_LIMIT_STAGE } from '../../../config/route/rate-limits';
import { runtimeFractionalPercent } from '../../../config/runtime';
import { rejectUnsupported } from '../../../config/unsupported';
import { descriptorKey, type DescriptorEntry } from '../../../router/rate-limit-actions';
import type { LocalRateLimitDescriptor } from '../../common/local-ratelimit/local-rate-limiter';
import { createTokenBucketState, type TokenBucketState } from '../../common/local-ratelimit/token-bucket';
import { UNLIMITED_TOKEN_BUCKET, parseTokenBucket } from '../../common/local-ratelimit/token-bucket-config';

/** Envoy's `VhRateLimitsOptions`: when the virtual host's rate_limits add descriptors. */
export const VH_RATE_LIMITS = ['OVERRIDE', 'INCLUDE', 'IGNORE'] as const;

export interface LocalRateLimitConfig {
  statPrefix: string;
  /**
   * Shared by every worker (a SharedArrayBuffer inside): one budget per configured filter or
   * per-route config. With `perConnection`, only its parameters are used, for each connection's own.
   * No `token_bucket`: a bucket that never runs out.
   */
  bucket: TokenBucketState;
  /** `descriptors`, each with its own bucket (shared like `bucket`); matched by the route's rate_limits. */
  descriptors: LocalRateLimitDescriptor[];
  /** Which route `rate_limits` entries (their `stage`) make this config's request descriptors. */
  stage: number;
  vhRateLimits: (typeof VH_RATE_LIMITS)[number];
  /** Charge the default bucket even when a descriptor matched (Envoy's default: true). */
  alwaysConsumeDefaultTokenBucket: boolean;
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
  'request_headers_to_add_when_not_enforced',
  'enable_x_ratelimit_headers',
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
    descriptors: parseDescriptors(r),
    stage: r.uint('stage', 0, { max: MAX_RATE_LIMIT_STAGE }),
    vhRateLimits: r.enumValue('vh_rate_limits', VH_RATE_LIMITS, 'OVERRIDE'),
    alwaysConsumeDefaultTokenBucket: readBoolValue(r, 'always_consume_default_token_bucket', true),
    perConnection: r.bool('local_rate_limit_per_downstream_connection', false),
    filterEnabled: runtimeFractionalPercent(r, 'filter_enabled', 0),
    filterEnforced: runtimeFractionalPercent(r, 'filter_enforced', 0),
    status: r.object('status')?.uint('code', 429, { min: 200, max: 599 }) ?? 429,
    responseHeadersToAdd: parseHeadersToAdd(r, 'response').map(({ key, value }) => ({ key, value })),
  };
}

/**
 * `token_bucket` is optional on the filter: without it Envoy's filter applies no default limit,
 * which an effectively infinite bucket models (descriptors still limit). A per-route config must
 * have one (Envoy: "local rate limit token bucket must be set for per filter configs").
 */
function parseBucket(r: ObjectReader, perRoute: boolean): TokenBucketState {
  if (perRoute && !r.has('token_bucket'))
    r.error('token_bucket', 'required in a per-route (typed_per_filter_config) local_ratelimit');
  const tb = r.object('token_bucket');
  return createTokenBucketState(tb ? parseTokenBucket(tb) : UNLIMITED_TOKEN_BUCKET, Date.now());
}

/**
 * `descriptors[]`: entries (keys and values non-empty, as the proto requires) and a required
 * token_bucket each; two descriptors with the same entries are an error, as in Envoy. An empty value
 * is newer Envoy's wildcard (a bucket per distinct value, `max_dynamic_descriptors`), not here yet.
 */
function parseDescriptors(r: ObjectReader): LocalRateLimitDescriptor[] {
  const seen = new Map<string, string>();
  const out: LocalRateLimitDescriptor[] = [];
  for (const d of r.objectArray('descriptors')) {
    const entries = d.objectArray('entries').map(parseEntry);
    if (entries.length === 0) d.error('entries', 'a descriptor needs at least one entry');
    const tb = d.object('token_bucket');
    if (!tb) d.error('token_bucket', 'required');
    const key = descriptorKey(entries);
    const first = seen.get(key);
    if (first !== undefined) d.error('entries', `duplicate descriptor (the same entries as ${first})`);
    seen.set(key, d.path);
    const params = tb ? parseTokenBucket(tb) : UNLIMITED_TOKEN_BUCKET;
    out.push({ entries, key, bucket: createTokenBucketState(params, Date.now()) });
  }
  return out;
}

function parseEntry(e: ObjectReader): DescriptorEntry {
  const key = e.requiredString('key');
  if (!e.has('value')) e.error('value', 'required');
  const value = e.string('value');
  if (e.has('value') && value === '')
    e.unsupported('value', "an empty value (newer Envoy's wildcard, one bucket per value) — give the value");
  return { key, value };
}
