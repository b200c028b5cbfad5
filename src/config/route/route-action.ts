/** The three things a route can do: forward (`route`), `redirect`, or answer (`direct_response`). */
import { parseLegacyCors } from '../../filters/http/cors/config';
import type {
  DirectResponseActionConfig,
  RedirectActionConfig,
  RetryPolicy,
  RouteStreamDuration,
  RouteActionConfig,
  WeightedClusterEntry,
} from '../bootstrap';
import type { ObjectReader } from '../config-reader';
import type { ParseContext } from '../../registry/registry';
import { GRPC_RETRY_CONDITIONS } from '../../http/grpc';
import { HTTP_RETRY_CONDITIONS } from '../../filters/http/router/request-directives';
import { didYouMean } from '../suggest';
import { rejectUnsupported } from '../unsupported';
import { parseHashPolicies } from './hash-policy';
import { parseHeaderMutations } from './header-mutations';
import { parseRateLimits, type RateLimitUse } from './rate-limits';
import { readRegexMatcher } from './regex-field';
import { parseRouteUpgradeConfigs } from './upgrade-configs';

const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
const DEFAULT_RETRY_BASE_MS = 25;

const UNSUPPORTED_ROUTE_ACTION_FIELDS = [
  'cluster_specifier_plugin',
  'inline_cluster_specifier_plugin',
  'cluster_not_found_response_code',
  'metadata_match',
  'path_rewrite_policy',
  'host_rewrite_header',
  'host_rewrite_path_regex',
  'append_x_forwarded_host',
  'request_mirror_policies',
  'priority',
  'internal_redirect_policy',
  'internal_redirect_action',
  'max_internal_redirects',
  'hedge_policy',
  'early_data_policy',
] as const;

const RETRY_ON_SUPPORTED = [
  ...HTTP_RETRY_CONDITIONS,
  // gRPC (a trailers-only response's grpc-status)
  ...Object.keys(GRPC_RETRY_CONDITIONS),
];
/** Envoy retry conditions Legate does not implement yet (named so the error says so). */
const RETRY_ON_UNSUPPORTED = [
  'envoy-ratelimited',
  'retriable-headers',
  'http3-post-connect-failure',
  'reset-before-request',
];

const REDIRECT_CODES = [
  'MOVED_PERMANENTLY',
  'FOUND',
  'SEE_OTHER',
  'TEMPORARY_REDIRECT',
  'PERMANENT_REDIRECT',
] as const;
const REDIRECT_STATUS = [301, 302, 303, 307, 308];

/** What route actions need from the enclosing route configuration and virtual host. */
export interface RouteActionScope {
  readonly ctx: ParseContext;
  /** False when the route configuration sets `validate_clusters: false`. */
  readonly validateClusters: boolean;
  /** The virtual host's retry_policy, used by routes that have none. */
  readonly defaultRetryPolicy: RetryPolicy | null;
  readonly maxDirectResponseBodyBytes: number;
  /** Collects every `rate_limits` entry, to check its stage once the whole config is parsed. */
  readonly rateLimitUses?: RateLimitUse[];
}

export function parseRouteAction(r: ObjectReader, scope: RouteActionScope): RouteActionConfig {
  rejectUnsupported(r, UNSUPPORTED_ROUTE_ACTION_FIELDS);
  const specifier = r.oneOf(
    ['cluster', 'cluster_header', 'weighted_clusters', 'cluster_specifier_plugin'],
    true,
  );
  const cluster = specifier === 'cluster' ? r.requiredString('cluster') : null;
  if (cluster) referenceCluster(r, 'cluster', cluster, scope);
  const clusterHeader =
    specifier === 'cluster_header' ? r.requiredString('cluster_header').toLowerCase() : null;
  const weightedClusters =
    specifier === 'weighted_clusters'
      ? parseWeightedClusters(r.requiredObject('weighted_clusters'), scope)
      : null;

  r.oneOf(['prefix_rewrite', 'regex_rewrite', 'path_rewrite_policy'], false);
  const prefixRewrite = r.has('prefix_rewrite') ? r.string('prefix_rewrite') : null;
  const rewrite = r.object('regex_rewrite');
  const regexRewrite = rewrite
    ? { pattern: readRegexMatcher(rewrite, 'pattern'), substitution: rewrite.string('substitution') }
    : null;
  if (rewrite && !rewrite.has('pattern')) rewrite.error('pattern', "missing required field 'pattern'");

  const hostRewrite = r.oneOf(
    ['host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex'],
    false,
  );
  const retry = r.object('retry_policy');
  return {
    kind: 'route',
    cluster,
    weightedClusters,
    clusterHeader,
    prefixRewrite,
    regexRewrite,
    hostRewriteLiteral: hostRewrite === 'host_rewrite_literal' ? r.string('host_rewrite_literal') : null,
    autoHostRewrite: r.bool('auto_host_rewrite', false),
    timeoutMs: r.durationMs('timeout', DEFAULT_ROUTE_TIMEOUT_MS),
    idleTimeoutMs: r.durationMs('idle_timeout', 0),
    grpcTimeout: parseGrpcTimeout(r),
    streamDuration: parseStreamDuration(r),
    retryPolicy: retry ? parseRetryPolicy(retry) : scope.defaultRetryPolicy,
    cors: parseLegacyCors(r),
    hashPolicy: parseHashPolicies(r),
    rateLimits: parseRateLimits(r, scope.rateLimitUses),
    includeVhRateLimits:
      r.deprecated('include_vh_rate_limits', "use the filter's vh_rate_limits: INCLUDE") &&
      r.bool('include_vh_rate_limits', false),
    upgradeConfigs: parseRouteUpgradeConfigs(r),
  };
}

/**
 * The deprecated max_grpc_timeout / grpc_timeout_offset: a gRPC request's grpc-timeout header sets
 * its route timeout (in the router). Null: the route's `timeout` applies to gRPC requests too, and
 * always once the route has `max_stream_duration` (Envoy then uses the "new timeouts" only).
 */
function parseGrpcTimeout(r: ObjectReader): { maxMs: number; offsetMs: number } | null {
  r.deprecated('max_grpc_timeout', 'use max_stream_duration.grpc_timeout_header_max');
  r.deprecated('grpc_timeout_offset', 'use max_stream_duration.grpc_timeout_header_offset');
  if (!r.has('max_grpc_timeout') || r.has('max_stream_duration')) return null;
  return { maxMs: r.durationMs('max_grpc_timeout', 0), offsetMs: r.durationMs('grpc_timeout_offset', 0) };
}

/**
 * `max_stream_duration`: the stream's limit (HttpConnectionManager's ActiveStream enforces it),
 * and how a gRPC request's grpc-timeout header sets it. Null when the route has none.
 */
function parseStreamDuration(r: ObjectReader): RouteStreamDuration | null {
  const stream = r.object('max_stream_duration');
  if (stream === null) return null;
  return {
    maxMs: stream.has('max_stream_duration') ? stream.durationMs('max_stream_duration', 0) : null,
    grpcHeaderMaxMs: stream.has('grpc_timeout_header_max')
      ? stream.durationMs('grpc_timeout_header_max', 0)
      : null,
    grpcHeaderOffsetMs: stream.durationMs('grpc_timeout_header_offset', 0),
  };
}

function referenceCluster(r: ObjectReader, field: string, name: string, scope: RouteActionScope): void {
  if (scope.validateClusters) scope.ctx.referenceCluster?.(r, field, name);
}

function parseWeightedClusters(r: ObjectReader, scope: RouteActionScope): WeightedClusterEntry[] {
  rejectUnsupported(r, ['runtime_key_prefix', 'header_name', 'random_value_specifier']);
  const entries = r.objectArray('clusters').map((c): WeightedClusterEntry => {
    rejectUnsupported(c, [
      'cluster_header',
      'metadata_match',
      'typed_per_filter_config',
      'host_rewrite_literal',
    ]);
    const name = c.requiredString('name');
    if (name) referenceCluster(c, 'name', name, scope);
    return { at: c.path, name, weight: c.wrappedUint('weight', 0), ...parseHeaderMutations(c) };
  });
  const sum = entries.reduce((total, e) => total + e.weight, 0);
  if (entries.length === 0) r.error('clusters', 'weighted_clusters needs at least one cluster');
  else if (sum === 0)
    r.error('clusters', 'the weights of weighted_clusters sum to 0; give at least one cluster a weight');
  if (r.deprecated('total_weight', 'weights are relative; remove total_weight')) {
    const total = r.wrappedUint('total_weight', 0);
    if (total !== sum) r.error('total_weight', `total_weight is ${total} but the weights sum to ${sum}`);
  }
  return entries;
}

export function parseRetryPolicy(r: ObjectReader): RetryPolicy {
  rejectUnsupported(r, [
    'retry_priority',
    'retry_host_predicate',
    'retry_options_predicates',
    'host_selection_retry_max_attempts',
    'rate_limited_retry_back_off',
    'retriable_headers',
    'retriable_request_headers',
    'per_try_idle_timeout',
  ]);
  const backOff = r.object('retry_back_off');
  let backOffBaseMs = DEFAULT_RETRY_BASE_MS;
  let backOffMaxMs = 10 * DEFAULT_RETRY_BASE_MS;
  if (backOff) {
    if (!backOff.has('base_interval'))
      backOff.error('base_interval', "missing required field 'base_interval'");
    backOffBaseMs = backOff.durationMs('base_interval', DEFAULT_RETRY_BASE_MS);
    if (backOffBaseMs <= 0) backOff.error('base_interval', 'must be greater than 0s');
    backOffMaxMs = backOff.durationMs('max_interval', 10 * backOffBaseMs);
    if (backOffMaxMs < backOffBaseMs) backOff.error('max_interval', 'must not be less than base_interval');
  }
  const retryOn = parseRetryOn(r);
  return {
    retryOn,
    retriesOnGrpcStatus: retryOn.some((on) => GRPC_RETRY_CONDITIONS[on] !== undefined),
    numRetries: r.wrappedUint('num_retries', 1),
    perTryTimeoutMs: r.durationMs('per_try_timeout', 0),
    retriableStatusCodes: parseStatusCodes(r, 'retriable_status_codes'),
    backOffBaseMs,
    backOffMaxMs,
  };
}

function parseRetryOn(r: ObjectReader): string[] {
  const conditions = r
    .string('retry_on')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  for (const c of conditions) {
    if (RETRY_ON_SUPPORTED.includes(c)) continue;
    if (RETRY_ON_UNSUPPORTED.includes(c))
      r.error('retry_on', `retry condition '${c}' is not supported by Legate yet`);
    else {
      r.error(
        'retry_on',
        `unknown retry condition '${c}' (expected a comma-separated list of ${RETRY_ON_SUPPORTED.join(', ')})`,
        didYouMean(c, RETRY_ON_SUPPORTED),
      );
    }
  }
  return conditions;
}

function parseStatusCodes(r: ObjectReader, field: string): number[] {
  return r.stringArray(field).map((text) => {
    const code = Number(text);
    if (!Number.isInteger(code) || code < 100 || code > 599)
      r.error(field, `'${text}' is not an HTTP status code (100-599)`);
    return code;
  });
}

export function parseRedirect(r: ObjectReader): RedirectActionConfig {
  r.unsupported('regex_rewrite');
  const scheme = r.oneOf(['https_redirect', 'scheme_redirect'], false);
  r.oneOf(['path_redirect', 'prefix_rewrite', 'regex_rewrite'], false);
  return {
    kind: 'redirect',
    httpsRedirect: r.bool('https_redirect', false),
    schemeRedirect: scheme === 'scheme_redirect' ? r.string('scheme_redirect').toLowerCase() : null,
    hostRedirect: r.has('host_redirect') ? r.string('host_redirect') : null,
    portRedirect: r.uint('port_redirect', 0, { max: 65535 }),
    pathRedirect: r.has('path_redirect') ? r.string('path_redirect') : null,
    prefixRewrite: r.has('prefix_rewrite') ? r.string('prefix_rewrite') : null,
    responseCode:
      REDIRECT_STATUS[
        REDIRECT_CODES.indexOf(r.enumValue('response_code', REDIRECT_CODES, 'MOVED_PERMANENTLY'))
      ]!,
    stripQuery: r.bool('strip_query', false),
  };
}

export function parseDirectResponse(r: ObjectReader, scope: RouteActionScope): DirectResponseActionConfig {
  r.unsupported('body_format');
  if (!r.has('status')) r.error('status', "missing required field 'status'");
  const status = r.uint('status', 200, { min: 200, max: 599 });
  const source = r.object('body');
  let body: string | null = null;
  if (source) {
    rejectUnsupported(source, ['inline_bytes', 'filename', 'environment_variable']);
    source.oneOf(['inline_string', 'inline_bytes', 'filename', 'environment_variable'], true);
    body = source.string('inline_string');
    const size = Buffer.byteLength(body);
    if (size > scope.maxDirectResponseBodyBytes) {
      source.error(
        'inline_string',
        `body is ${size} bytes, over max_direct_response_body_size_bytes (${scope.maxDirectResponseBodyBytes})`,
      );
    }
  }
  return { kind: 'direct_response', status, body };
}
