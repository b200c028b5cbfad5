/**
 * The validated, normalised bootstrap: plain data with Envoy's defaults filled in and durations in
 * milliseconds. It is produced once on the primary thread by `config/load` and crosses to workers
 * with structured clone, so it holds no functions, class instances or RegExp objects (regexes are
 * kept as source strings and compiled once per worker).
 *
 * Every object that came from the user's file keeps `at`: the field path (`static_resources.clusters[0]`)
 * used in later error messages (e.g. an unknown cluster named by a route).
 */
import type { Http2ProtocolOptions } from './http2-options';
import type { LogFilterConfig } from '../access-log/filter';
import type { LogFormatConfig } from '../access-log/log-format';
import type { CorsPolicyConfig } from '../filters/http/cors/config';
import type { FileConfigSource } from './xds/config-source';

export interface Bootstrap {
  admin: AdminConfig | null;
  listeners: ListenerConfig[];
  clusters: ClusterConfig[];
  /** The file the bootstrap came from ('' for --config-yaml / short form). */
  sourcePath: string;
  /** `dynamic_resources`: clusters and listeners from xDS files (absent: none). */
  dynamicResources?: DynamicResourcesConfig;
}

/** `dynamic_resources`: where CDS and LDS read their resources (null: not configured). */
export interface DynamicResourcesConfig {
  cds: FileConfigSource | null;
  lds: FileConfigSource | null;
}

export interface SocketAddress {
  address: string;
  port: number;
}

export interface AdminConfig {
  address: SocketAddress;
  /** `access_log` (and the deprecated `access_log_path`, as a file logger): admin requests are logged. */
  accessLog: ExtensionConfig[];
}

export interface ListenerConfig {
  at: string;
  name: string;
  address: SocketAddress;
  filterChains: FilterChainConfig[];
  /** `per_connection_buffer_limit_bytes`, default 1 MiB. */
  perConnectionBufferLimitBytes: number;
  /** `connection_balance_config.exact_balance` → 'exact'; default 'kernel' (SO_REUSEPORT hashing). */
  connectionBalance: 'kernel' | 'exact';
  /** Legate extension: which downstream HTTP/1.1 codec serves this listener. */
  http1Codec: 'legate' | 'uws';
  /** `access_log[]`: connections closed before any request or session started (active-listener.ts). */
  accessLog: ExtensionConfig[];
  /** `listener_filters[]` (category 'listener_filter'), run in order on each accepted connection. */
  listenerFilters: ExtensionConfig[];
  /** `listener_filters_timeout` (Envoy's default 15 s; 0 disables). */
  listenerFiltersTimeoutMs: number;
  /** `continue_on_listener_filters_timeout`: pick a chain with what was learned instead of closing. */
  continueOnListenerFiltersTimeout: boolean;
  /** `default_filter_chain`: serves the connections no chain of `filterChains` matches. */
  defaultFilterChain: FilterChainConfig | null;
}

export interface FilterChainConfig {
  at: string;
  /** `name`, or the chain's config path when unnamed (for logs). */
  name: string;
  match: FilterChainMatch;
  /** `transport_socket` (category 'downstream_transport_socket'); null is plaintext (raw_buffer). */
  transportSocket: ExtensionConfig | null;
  /** `transport_socket_connect_timeout`: the longest a TLS handshake may take (0: no limit). */
  transportSocketConnectTimeoutMs: number;
  filters: ExtensionConfig[];
}

/** An IP prefix (`config.core.v3.CidrRange`), normalised: the address masked to `prefixLen` bits. */
export interface CidrRange {
  address: string;
  prefixLen: number;
}

/**
 * `filter_chain_match`, with Envoy's defaults: empty lists and 0 / '' mean "any". Matched field by
 * field in Envoy's order (src/listener/filter-chain-selector.ts).
 */
export interface FilterChainMatch {
  destinationPort: number;
  prefixRanges: CidrRange[];
  /** Lower-cased; `*.example.com` wildcards keep their `*.`. */
  serverNames: string[];
  transportProtocol: string;
  applicationProtocols: string[];
  sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  sourcePrefixRanges: CidrRange[];
  sourcePorts: number[];
}

/** A `{ name, typed_config }` pair after the registry resolved it to a factory and parsed its config. */
export const FORWARD_CLIENT_CERT_DETAILS = [
  'SANITIZE',
  'FORWARD_ONLY',
  'APPEND_FORWARD',
  'SANITIZE_SET',
  'ALWAYS_FORWARD_ONLY',
] as const;
export type ForwardClientCertDetails = (typeof FORWARD_CLIENT_CERT_DETAILS)[number];

export interface ClientCertDetailsConfig {
  subject: boolean;
  cert: boolean;
  chain: boolean;
  dns: boolean;
  uri: boolean;
}

export interface ExtensionConfig<C = unknown> {
  at: string;
  /** Canonical Envoy name of the factory (aliases already resolved). */
  name: string;
  /** The entry's `name` as written (per-route configs find their HTTP filter by it, as in Envoy). */
  configName: string;
  config: C;
}

// ---------------------------------------------------------------- HTTP connection manager

export type AppendAction =
  'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

export interface HeaderValueOption {
  key: string; // lower-cased
  value: string;
  appendAction: AppendAction;
}

export interface HeaderMutations {
  /** Config path of the object that holds these fields (for build errors); absent when hand-built. */
  at?: string;
  requestHeadersToAdd: HeaderValueOption[];
  requestHeadersToRemove: string[]; // lower-cased
  responseHeadersToAdd: HeaderValueOption[];
  responseHeadersToRemove: string[];
}

export interface HttpConnectionManagerConfig {
  statPrefix: string;
  /** AUTO: ALPN on TLS, the HTTP/2 preface on plaintext; else HTTP/1. */
  codecType: 'AUTO' | 'HTTP1' | 'HTTP2';
  /** `http2_protocol_options`, for the connections served with HTTP/2. */
  http2: Http2ProtocolOptions;
  routeConfig: RouteConfiguration;
  httpFilters: ExtensionConfig[];
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  /** `skip_xff_append`: with use_remote_address, the peer is not appended to x-forwarded-for. */
  skipXffAppend: boolean;
  /**
   * `internal_address_config`: the client addresses whose requests are internal (they keep the
   * x-envoy-* control headers and get `x-envoy-internal: true`). Envoy's default since 1.36: none.
   */
  internalAddresses: InternalAddressConfig;
  generateRequestId: boolean; // default true
  /** `preserve_external_request_id`: an edge request keeps the x-request-id it came with. */
  preserveExternalRequestId: boolean;
  /** `forward_client_cert_details` (Envoy's default SANITIZE: x-forwarded-client-cert is removed). */
  forwardClientCertDetails: ForwardClientCertDetails;
  /** `set_current_client_cert_details`: what SANITIZE_SET / APPEND_FORWARD put in (By and Hash always). */
  clientCertDetails: ClientCertDetailsConfig;
  serverName: string; // default 'legate'
  serverHeaderTransformation: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  streamIdleTimeoutMs: number; // 300000; 0 = disabled
  requestTimeoutMs: number; // 0 = disabled
  /** common_http_protocol_options.max_stream_duration; 0 = none. */
  maxStreamDurationMs: number;
  /** common_http_protocol_options.max_requests_per_connection (downstream); 0 = no limit. */
  maxRequestsPerConnection: number;
  /** common_http_protocol_options.max_connection_duration (downstream); 0 = none. */
  maxConnectionDurationMs: number;
  requestHeadersTimeoutMs: number; // 0 = disabled
  maxRequestHeadersKb: number; // 60
  maxRequestHeadersCount: number; // 100
  idleTimeoutMs: number; // common_http_protocol_options.idle_timeout, 3600000
  headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  normalizePath: boolean;
  /** always_set_request_id_in_response: responses carry the request's x-request-id. */
  alwaysSetRequestIdInResponse: boolean;
  /** `via`: appended to the Via header of requests and responses ('' = none). */
  via: string;
  /** path_with_escaped_slashes_action: what `%2F` / `%5C` in the path lead to (before normalize_path). */
  escapedSlashesAction:
    'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';
  /** strip_trailing_host_dot: `example.com.` is routed (and sent upstream) as `example.com`. */
  stripTrailingHostDot: boolean;
  /** strip_any_host_port / strip_matching_host_port (the listener's port only): Host without it. */
  stripHostPort: 'none' | 'any' | 'matching';
  mergeSlashes: boolean;
  /** http_protocol_options.accept_http_10: Envoy answers 426 to HTTP/1.0 unless set. */
  acceptHttp10: boolean;
  /** Host for HTTP/1.0 requests that have none ('' = none: such a request gets 400, as in Envoy). */
  defaultHostForHttp10: string;
  /**
   * `drain_timeout` (default 5 s): while draining, how long a downstream connection may stay open
   * for requests racing with its close (HTTP/1: answered with `Connection: close`); see common/drain.ts.
   */
  drainTimeoutMs: number;
  /** `access_log[]`: access loggers (registry category 'access_logger') called once per stream. */
  accessLog: ExtensionConfig[];
  /** `upgrade_configs[]`: the upgrades (WebSocket, CONNECT, any token) this HCM lets through. */
  upgradeConfigs: UpgradeConfig[];
  /** `local_reply_config`: null when absent (replies as Legate writes them). */
  localReply: LocalReplyConfig | null;
  /**
   * `rds`: the route configuration comes from an xDS file; `routeConfig` is then the one the
   * primary last accepted from it (empty until one is: every request gets 404 NR).
   */
  rds: RdsConfig | null;
}

/** `rds` (extensions.filters.network.http_connection_manager.v3.Rds). */
export interface RdsConfig {
  source: FileConfigSource;
  /** `route_config_name`: the RouteConfiguration of the file this connection manager uses. */
  routeConfigName: string;
}

/** `local_reply_config` (extensions.filters.network.http_connection_manager.v3.LocalReplyConfig). */
export interface LocalReplyConfig {
  /** Tried in order; the first whose filter matches rewrites the reply. */
  mappers: LocalReplyMapper[];
  /** `body_format`: how every reply's body is written (null: the body text as it is, text/plain). */
  bodyFormat: LocalReplyBodyFormat | null;
}

export interface LocalReplyMapper {
  filter: LogFilterConfig;
  /** `status_code`: the status the reply gets instead (null: unchanged). */
  statusCode: number | null;
  /** `body`: the body text instead (null: unchanged). */
  body: string | null;
  /** `body_format_override`: this mapper's body format instead of `body_format`. */
  bodyFormat: LocalReplyBodyFormat | null;
  headersToAdd: HeaderValueOption[];
}

export interface LocalReplyBodyFormat {
  format: LogFormatConfig;
  /** `content_type`; '' for the format's default (text/plain, or application/json). */
  contentType: string;
}

export interface InternalAddressConfig {
  /** `unix_sockets`: a peer on a Unix domain socket is internal. */
  unixSockets: boolean;
  cidrRanges: CidrRange[];
}

/**
 * One `upgrade_configs` entry of an HTTP connection manager or a route: an upgrade token (matched
 * case-insensitively against the request's Upgrade field; `connect` means the CONNECT method) and
 * whether it is enabled there. A route's entry overrides the HCM's for that token.
 */
export interface UpgradeConfig {
  /** Lower-cased: `websocket`, `connect`, … */
  upgradeType: string;
  enabled: boolean; // BoolValue, default true
}

export interface RouteUpgradeConfig extends UpgradeConfig {
  /**
   * `connect_config` is set (upgrade_type CONNECT only): the route terminates CONNECT and relays
   * its payload over TCP to the cluster, instead of proxying the CONNECT to it.
   */
  terminateConnect: boolean;
}
/**
 * `typed_per_filter_config` of a route configuration, virtual host or route: one entry per HTTP
 * filter it configures (`configName` names the filter, `config` is what its factory's
 * `parsePerRouteConfig` returned). Absent means none.
 */
export interface PerFilterConfigs {
  perFilterConfigs?: ExtensionConfig[];
}

export interface RouteConfiguration extends HeaderMutations, PerFilterConfigs {
  at: string;
  name: string;
  virtualHosts: VirtualHostConfig[];
  /** `internal_only_headers` (lower-cased): removed from every request that is not internal. */
  internalOnlyHeaders: string[];
}

export interface VirtualHostConfig extends HeaderMutations, PerFilterConfigs {
  at: string;
  name: string;
  domains: string[]; // lower-cased
  routes: RouteConfig[];
  /** `rate_limits`: descriptors for rate limit filters (absent or [] = none). */
  rateLimits?: RateLimitConfig[];
  /** `require_tls`: requests not over TLS (per x-forwarded-proto) get a 301 to https (absent: NONE). */
  requireTls?: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  /** `include_request_attempt_count`: each upstream request carries x-envoy-attempt-count. */
  includeRequestAttemptCount?: boolean;
  /** `include_attempt_count_in_response`: the response carries x-envoy-attempt-count. */
  includeAttemptCountInResponse?: boolean;
  /** The deprecated `cors` (the CORS filter's policy when no typed_per_filter_config gives one). */
  cors?: CorsPolicyConfig | null;
}

export interface StringMatcher {
  kind: 'exact' | 'prefix' | 'suffix' | 'contains' | 'safe_regex';
  value: string; // for safe_regex: the regex source
  ignoreCase: boolean;
}

export interface HeaderMatcher {
  name: string; // lower-cased
  /** null means present_match (or a bare `name:` with no matcher: present). */
  stringMatch: StringMatcher | null;
  presentMatch: boolean;
  invertMatch: boolean;
  treatMissingHeaderAsEmpty: boolean;
}

export interface QueryParameterMatcher {
  name: string;
  stringMatch: StringMatcher | null;
  presentMatch: boolean;
}

export interface RouteMatch {
  /** `connect_matcher` matches CONNECT requests only (their target is an authority, not a path). */
  kind: 'prefix' | 'path' | 'safe_regex' | 'path_separated_prefix' | 'connect_matcher';
  value: string;
  caseSensitive: boolean; // default true
  headers: HeaderMatcher[];
  queryParameters: QueryParameterMatcher[];
}

export interface RetryPolicy {
  /** '5xx', 'gateway-error', 'connect-failure', 'reset', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', and gRPC's 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'. */
  retryOn: string[];
  /** Some `retryOn` condition is a gRPC one: every response head may then be retried (its grpc-status decides). */
  retriesOnGrpcStatus: boolean;
  numRetries: number; // default 1
  perTryTimeoutMs: number; // 0 = route timeout
  retriableStatusCodes: number[];
  backOffBaseMs: number; // 25
  backOffMaxMs: number; // 10 × base
}

/** A route's `max_stream_duration` (config.route.v3.RouteAction.MaxStreamDuration). */
export interface RouteStreamDuration {
  /** `max_stream_duration`: null = the connection manager's; 0 = none for this route. */
  maxMs: number | null;
  /** `grpc_timeout_header_max`: null = a gRPC request's grpc-timeout is not used; 0 = no cap. */
  grpcHeaderMaxMs: number | null;
  /** `grpc_timeout_header_offset`. */
  grpcHeaderOffsetMs: number;
}

export interface WeightedClusterEntry extends HeaderMutations {
  name: string;
  weight: number;
}

export interface RouteActionConfig {
  kind: 'route';
  /** Exactly one of cluster / weightedClusters / clusterHeader is set. */
  cluster: string | null;
  weightedClusters: WeightedClusterEntry[] | null;
  clusterHeader: string | null;
  prefixRewrite: string | null;
  regexRewrite: { pattern: string; substitution: string } | null;
  hostRewriteLiteral: string | null;
  autoHostRewrite: boolean;
  timeoutMs: number; // default 15000; 0 = disabled
  idleTimeoutMs: number; // 0 = use HCM stream_idle_timeout
  /**
   * gRPC requests: the route timeout is their grpc-timeout (less `offsetMs` when larger), at most
   * `maxMs` (0: no maximum), none without the header unless `maxMs` (Envoy's finalTimeout). Absent
   * or null: `timeoutMs` applies.
   */
  grpcTimeout?: { maxMs: number; offsetMs: number } | null;
  /**
   * `max_stream_duration` (Envoy's "new timeouts"; absent or null: the route has none). Once set,
   * the router applies neither `timeoutMs` nor `grpcTimeout`: the connection manager bounds the
   * whole stream instead.
   */
  streamDuration?: RouteStreamDuration | null;
  retryPolicy: RetryPolicy | null;
  /** `hash_policy`, in order: the request hash for RING_HASH / MAGLEV clusters. Absent or [] = none. */
  hashPolicy?: HashPolicyConfig[];
  /** `rate_limits`: descriptors for rate limit filters (absent or [] = none). */
  rateLimits?: RateLimitConfig[];
  /** `include_vh_rate_limits` (deprecated in Envoy): the virtual host's rate_limits apply too. */
  includeVhRateLimits?: boolean;
  /** `upgrade_configs`: per-token overrides of the HCM's (absent or [] = none). */
  upgradeConfigs?: RouteUpgradeConfig[];
  /** The deprecated `cors` (see VirtualHostConfig.cors); the route's wins over its virtual host's. */
  cors?: CorsPolicyConfig | null;
}

/**
 * Envoy's `config.route.v3.RateLimit`: its actions, in order, build one descriptor (a list of
 * key/value entries) for rate limit filters of the same `stage`.
 */
export interface RateLimitConfig {
  stage: number; // 0..10
  /** Envoy's local_ratelimit skips entries that have one (it is a runtime key for the global filter). */
  disableKey: string;
  actions: RateLimitActionConfig[];
}

/** One `RateLimit.Action`: the entry it adds to the descriptor, or why there is none. */
export type RateLimitActionConfig =
  | { kind: 'generic_key'; key: string; value: string }
  | { kind: 'request_headers'; headerName: string; key: string; skipIfAbsent: boolean } // name lower-cased
  | { kind: 'remote_address' }
  | { kind: 'destination_cluster' }
  | {
      kind: 'header_value_match';
      key: string;
      value: string;
      expectMatch: boolean;
      headers: HeaderMatcher[];
    };

/** One `hash_policy` entry: what to hash, and whether a hash from it ends the list (`terminal`). */
export type HashPolicyConfig = { terminal: boolean } & (
  | { kind: 'header'; name: string } // lower-cased
  | { kind: 'cookie'; name: string }
  | { kind: 'source_ip' } // connection_properties.source_ip: true
  | { kind: 'query_parameter'; name: string }
);

export interface RedirectActionConfig {
  kind: 'redirect';
  httpsRedirect: boolean;
  schemeRedirect: string | null;
  hostRedirect: string | null;
  portRedirect: number; // 0 = unchanged
  pathRedirect: string | null;
  prefixRewrite: string | null;
  responseCode: number; // 301 default (MOVED_PERMANENTLY)
  stripQuery: boolean;
}

export interface DirectResponseActionConfig {
  kind: 'direct_response';
  status: number;
  body: string | null;
}

export type RouteAction = RouteActionConfig | RedirectActionConfig | DirectResponseActionConfig;

export interface RouteConfig extends HeaderMutations, PerFilterConfigs {
  at: string;
  name: string;
  match: RouteMatch;
  action: RouteAction;
}

// ---------------------------------------------------------------- router filter

export interface RouterFilterConfig {
  suppressEnvoyHeaders: boolean;
  /** `respect_expected_rq_timeout`: an egress proxy's x-envoy-expected-rq-timeout-ms is the timeout. */
  respectExpectedRqTimeout: boolean;
}

// ---------------------------------------------------------------- clusters

export interface EndpointConfig {
  address: SocketAddress;
  /** load_balancing_weight, default 1. */
  weight: number;
  /** endpoints[].priority, default 0. */
  priority: number;
  /** `endpoint.health_check_config.port_value`: where active health checks go (absent: the endpoint's port). */
  healthCheckPort?: number;
  /** `health_status` when it takes the host out of load balancing (absent: UNKNOWN or HEALTHY). */
  healthStatus?: 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT';
}

export interface ClusterConfig {
  at: string;
  name: string;
  /** The cluster type's enum name (a registered `cluster_type`: STATIC, STRICT_DNS, LOGICAL_DNS). */
  type: string;
  /**
   * EDS clusters: the xDS file of their ClusterLoadAssignment and its `cluster_name` there; the
   * primary fills `endpoints` (and the assignment's policy) from it (worker/dynamic-resources.ts).
   */
  eds?: { source: FileConfigSource; serviceName: string } | null;
  /** Host-table rows the cluster needs (its type's `slotCapacity`). */
  slotCapacity: number;
  /** Each endpoint is one host in its own row, in endpoint order (its type's `slotPerEndpoint`). */
  slotPerEndpoint: boolean;
  connectTimeoutMs: number; // 5000
  /** Canonical LB policy name as registered, e.g. 'ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM'. */
  lbPolicy: string;
  /** Policy-specific settings (least_request_lb_config, ring_hash_lb_config, …), parsed by the LB factory. */
  lbConfig: unknown;
  endpoints: EndpointConfig[];
  perConnectionBufferLimitBytes: number; // 1 MiB
  idleTimeoutMs: number; // common_http_protocol_options.idle_timeout, 3600000
  maxRequestsPerConnection: number; // 0 = unlimited
  /** common_http_protocol_options.max_stream_duration: each attempt's limit once attached; 0 = none (absent: 0). */
  maxStreamDurationMs?: number;
  /**
   * HTTP/2 to the hosts with these options (explicit_http_config or the cluster field); null/absent:
   * HTTP/1.1. With `alpn`, the options of HTTP/2 when ALPN chooses it.
   */
  http2?: Http2ProtocolOptions | null;
  /** auto_config: ALPN with each host chooses HTTP/2 or HTTP/1.1 (TLS clusters only). */
  alpn?: boolean;
  /** use_downstream_protocol_config: HTTP/2 upstream for HTTP/2 requests (`http2` options), else HTTP/1.1. */
  downstreamProtocol?: boolean;
  /** upstream_http_protocol_options.auto_sni: each request's Host (without port) is the TLS server name. */
  autoSni?: boolean;
  /** upstream_http_protocol_options.auto_san_validation: the host's certificate must cover that name. */
  autoSanValidation?: boolean;
  /** upstream_http_protocol_options.override_auto_sni_header (lower case): the name's source when present and not empty, else Host. */
  overrideAutoSniHeader?: string;
  dnsRefreshRateMs: number; // 5000
  dnsLookupFamily: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  /**
   * `circuit_breakers.thresholds`, one entry per routing priority: [DEFAULT, HIGH]. The config
   * loader always fills it; absent (hand-built configs in tests) means Envoy's defaults.
   */
  circuitBreakers?: [CircuitBreakerThresholds, CircuitBreakerThresholds];
  /** `outlier_detection` with Envoy's defaults filled in; null/absent when the cluster has none. */
  outlierDetection?: OutlierDetectionConfig | null;
  /** `health_checks` (Legate runs at most one per cluster); absent/empty: no active checking. */
  healthChecks?: HealthCheckConfig[];
  /** `transport_socket` (category 'upstream_transport_socket'); null/absent: plaintext. */
  transportSocket?: ExtensionConfig | null;
  /** `common_lb_config.healthy_panic_threshold` in percent (default 50; 0 disables panic mode). */
  healthyPanicThreshold?: number;
  /** `load_assignment.policy.overprovisioning_factor` in percent (default 140, i.e. 1.4). */
  overprovisioningFactor?: number;
  /** `load_assignment.policy.weighted_priority_health` (default false: level health counts hosts). */
  weightedPriorityHealth?: boolean;
}

/** `grpc_health_check`: grpc.health.v1.Health/Check over HTTP/2 (Envoy's GrpcHealthCheckerImpl). */
export interface GrpcHealthCheckConfig {
  /** HealthCheckRequest.service ('' = the server as a whole). */
  serviceName: string;
  /** `:authority` of the check ('' = the cluster name). */
  authority: string;
  /** `initial_metadata`: request headers added to the check. */
  initialMetadata: { key: string; value: string }[];
}

/** One `health_checks[]` entry (an HTTP or a TCP check), Envoy's defaults filled in. */
export interface HealthCheckConfig {
  timeoutMs: number;
  intervalMs: number;
  /** Interval while the host is unhealthy (default: intervalMs). */
  unhealthyIntervalMs: number;
  /** Interval after a failure while the host is still healthy, below unhealthy_threshold (default: unhealthyIntervalMs). */
  unhealthyEdgeIntervalMs: number;
  /** Interval after a success while the host is still unhealthy, below healthy_threshold (default: intervalMs). */
  healthyEdgeIntervalMs: number;
  /** Interval while the cluster has never had traffic (default 60 s). */
  noTrafficIntervalMs: number;
  /** The same for a healthy host (default: noTrafficIntervalMs). */
  noTrafficHealthyIntervalMs: number;
  /** `event_log_path`: Envoy's JSON HealthCheckEvent lines are appended here; null = no event log. */
  eventLogPath: string | null;
  /** Log every failed check to the event log, not only a host's first (default false). */
  alwaysLogFailures: boolean;
  /** Log every successful check to the event log, not only transitions (default false). */
  alwaysLogSuccess: boolean;
  initialJitterMs: number;
  intervalJitterMs: number;
  intervalJitterPercent: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  reuseConnection: boolean; // true
  /** Exactly one of http / tcp / grpc is set. */
  http: HttpHealthCheckConfig | null;
  tcp: TcpHealthCheckConfig | null;
  grpc?: GrpcHealthCheckConfig | null;
}

export interface HttpHealthCheckConfig {
  /** Host header; '' = the cluster name. */
  host: string;
  path: string;
  method: string; // GET
  requestHeadersToAdd: HeaderValueOption[];
  requestHeadersToRemove: string[];
  /** Half-open ranges [start, end); default [[200, 201]]. */
  expectedStatuses: [number, number][];
  retriableStatuses: [number, number][];
}

export interface TcpHealthCheckConfig {
  /** Hex payload written after connecting; '' = connect only. */
  send: string;
  /** Hex payloads that must all arrive, in order, for success; empty = connecting is success. */
  receive: string[];
}

/** A cluster's `outlier_detection` (consecutive-error and rate detectors), Envoy's defaults filled in. */
export interface OutlierDetectionConfig {
  intervalMs: number; // 10000
  baseEjectionTimeMs: number; // 30000
  maxEjectionTimeMs: number; // 300000
  maxEjectionPercent: number; // 10
  /** An ejection lasts a random extra 0..jitter ms (so ejected hosts do not all return at once). */
  maxEjectionTimeJitterMs: number; // 0
  /** Eject one host even when that exceeds max_ejection_percent (when none is ejected). */
  alwaysEjectOneHost: boolean; // false
  /** An ejected host that passes an active health check returns at once. */
  successfulActiveHealthCheckUnejectHost: boolean; // true
  consecutive5xx: number; // 5
  enforcingConsecutive5xx: number; // 100 (%)
  consecutiveGatewayFailure: number; // 5
  enforcingConsecutiveGatewayFailure: number; // 0 (%)
  splitExternalLocalOriginErrors: boolean; // false
  consecutiveLocalOriginFailure: number; // 5
  enforcingConsecutiveLocalOriginFailure: number; // 100 (%)
  successRateMinimumHosts: number; // 5
  successRateRequestVolume: number; // 100
  /** Thousandths: the ejection threshold is mean − (factor / 1000) · stdev. */
  successRateStdevFactor: number; // 1900
  enforcingSuccessRate: number; // 100 (%)
  enforcingLocalOriginSuccessRate: number; // 100 (%)
  failurePercentageThreshold: number; // 85 (%)
  failurePercentageMinimumHosts: number; // 5
  failurePercentageRequestVolume: number; // 50
  enforcingFailurePercentage: number; // 0 (%)
  enforcingFailurePercentageLocalOrigin: number; // 0 (%)
}

/** Envoy's RoutingPriority, in proto order (the index into `ClusterConfig.circuitBreakers`). */
export const ROUTING_PRIORITIES = ['DEFAULT', 'HIGH'] as const;
export type RoutingPriority = (typeof ROUTING_PRIORITIES)[number];

/** One `circuit_breakers.thresholds[]` entry with Envoy's defaults filled in. */
export interface CircuitBreakerThresholds {
  maxConnections: number; // 1024
  maxPendingRequests: number; // 1024
  maxRequests: number; // 1024
  maxRetries: number; // 3
  /** Connection pools (one per host per worker thread); Envoy's default is unlimited (2^32 - 1). */
  maxConnectionPools: number;
  /** When set, replaces max_retries by a share of the active and pending requests. */
  retryBudget: RetryBudget | null;
  /** Publish `remaining_*` gauges. */
  trackRemaining: boolean;
}

export interface RetryBudget {
  /** budget_percent.value, default 20 (percent of active + pending requests). */
  budgetPercent: number;
  /** min_retry_concurrency, default 3. */
  minRetryConcurrency: number;
}
