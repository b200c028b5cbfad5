/**
 * Envoy's `Cluster` (static config): discovery type, endpoints, timeouts, and the load balancing
 * policy, which is resolved through the registry (`lb_policy` enum or `load_balancing_policy`)
 * and whose settings the policy's factory reads from the cluster mapping itself.
 */
import { parseHttp2ProtocolOptions } from './http2-options';
import type { Http2ProtocolOptions } from './http2-options';
import { isIP } from 'node:net';
import type { ClusterConfig, EndpointConfig, ExtensionConfig } from './bootstrap';
import type { UpstreamTransportSocketFactory } from '../transport/api';
import { resolveExtension } from './extension';
import type { ExtensionFactory, ParseContext } from '../registry/registry';
import { parseAddress } from './address';
import { parseCircuitBreakers } from './circuit-breakers';
import { parseHealthChecks, parseHealthyPanicThreshold } from '../upstream/health/config';
import { parseOutlierDetection } from './outlier-detection';
import type { ObjectReader } from './config-reader';
import { enumByName, type ObjectReaderImpl } from './object-reader';
import { didYouMean, unknownValueMessage } from './suggest';
import { rejectUnsupported } from './unsupported';
import { isLbPolicyFactory } from '../upstream/lb/api';
import { isClusterTypeFactory, type ClusterTypeFactory } from '../upstream/discovery/api';
import { DEFAULT_OVERPROVISIONING_FACTOR } from '../upstream/lb/priority-load';
import { parseConfigSource } from './xds/config-source';

/** Envoy's cluster types Legate has no extension for yet (a clear error, not 'unknown value'). */
const UNSUPPORTED_CLUSTER_TYPES = ['ORIGINAL_DST'];
const DNS_LOOKUP_FAMILIES = ['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL'] as const;
/** Envoy's LbPolicy enum by proto number (4 is unused), for configs that give the number. */
const ENVOY_LB_POLICIES = [
  'ROUND_ROBIN',
  'LEAST_REQUEST',
  'RING_HASH',
  'RANDOM',
  '',
  'MAGLEV',
  'CLUSTER_PROVIDED',
  'LOAD_BALANCING_POLICY_CONFIG',
];
/** Policy-specific cluster fields: an LB factory reads its own; the rest do not apply. */
const LB_CONFIG_FIELDS = [
  'round_robin_lb_config',
  'least_request_lb_config',
  'ring_hash_lb_config',
  'maglev_lb_config',
  'original_dst_lb_config',
];
const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

const UNSUPPORTED_CLUSTER_FIELDS = [
  'transport_socket_matches',
  'cluster_type',
  'http_protocol_options',
  'protocol_selection',
  'lb_subset_config',
  'upstream_bind_config',
  'upstream_connection_options',
  'respect_dns_ttl',
  'dns_resolvers',
  'dns_resolution_config',
  'typed_dns_resolver_config',
  'use_tcp_for_dns_lookups',
  'dns_failure_refresh_rate',
  'dns_jitter',
  'cleanup_interval',
  'alt_stat_name',
  'metadata',
  'close_connections_on_host_health_failure',
  'ignore_health_on_host_removal',
  'preconnect_policy',
  'track_cluster_stats',
  'track_timeout_budgets',
  'wait_for_warm_on_init',
  'filters',
  'upstream_config',
  'connection_pool_per_downstream_connection',
  'lrs_server',
] as const;
const UNSUPPORTED_COMMON_OPTIONS = [
  'max_headers_count',
  'max_connection_duration',
  'headers_with_underscores_action',
  'max_response_headers_kb',
] as const;

interface UpstreamHttpOptions {
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
  maxStreamDurationMs: number;
  /** HTTP/2 to the hosts, with these options; null: HTTP/1.1. */
  http2: Http2ProtocolOptions | null;
  /** auto_config: ALPN chooses (`http2` holds the HTTP/2 options then). */
  alpn: boolean;
  /** use_downstream_protocol_config: the request's protocol chooses (`http2` likewise). */
  downstreamProtocol: boolean;
  autoSni: boolean;
  autoSanValidation: boolean;
  overrideAutoSniHeader: string;
}

export function parseCluster(r: ObjectReaderImpl, ctx: ParseContext): ClusterConfig {
  rejectUnsupported(r, UNSUPPORTED_CLUSTER_FIELDS);
  const name = r.requiredString('name');
  const type = r.enumValue(
    'type',
    [...ctx.registry.enumNames('cluster_type'), ...UNSUPPORTED_CLUSTER_TYPES],
    'STATIC',
  );
  if (UNSUPPORTED_CLUSTER_TYPES.includes(type)) r.error('type', `${type} is not supported by Legate yet`);
  // A `type` that failed to parse (reported there) must not also make its endpoints look wrong.
  const typeFactory = r.failed('type') ? null : clusterTypeOf(ctx, type);
  const connectTimeoutMs = r.durationMs('connect_timeout', 5000);
  if (connectTimeoutMs <= 0) r.error('connect_timeout', 'must be greater than 0s');
  const dnsRefreshRateMs = r.durationMs('dns_refresh_rate', 5000);
  if (dnsRefreshRateMs < 1) r.error('dns_refresh_rate', 'must be at least 0.001s');
  const http = parseUpstreamHttpOptions(r);
  const assignment = r.object('load_assignment');
  const healthChecks = parseHealthChecks(r);
  const transportSocket = parseUpstreamTransportSocket(r, ctx);
  // Envoy's AutoHttpConfig: "This can only be used with transport sockets which support ALPN".
  if (http.alpn && transportSocket === null)
    r.error(
      'typed_extension_protocol_options',
      'auto_config needs a TLS transport_socket (ALPN chooses the protocol)',
    );
  const endpoints = parseEndpoints(assignment, typeFactory);
  const eds = parseEdsClusterConfig(r, type, name);
  return {
    at: r.path,
    name,
    type,
    ...(eds !== null ? { eds } : {}),
    ...slotsOf(typeFactory, endpoints),
    connectTimeoutMs,
    ...parseLbPolicy(r, ctx),
    endpoints,
    ...parseAssignmentPolicy(assignment?.object('policy') ?? null),
    perConnectionBufferLimitBytes: r.wrappedUint('per_connection_buffer_limit_bytes', 1024 * 1024),
    idleTimeoutMs: http.idleTimeoutMs,
    maxRequestsPerConnection: http.maxRequestsPerConnection,
    maxStreamDurationMs: http.maxStreamDurationMs,
    http2: http.http2,
    alpn: http.alpn,
    downstreamProtocol: http.downstreamProtocol,
    autoSni: http.autoSni,
    overrideAutoSniHeader: http.overrideAutoSniHeader,
    autoSanValidation: http.autoSanValidation,
    dnsRefreshRateMs,
    dnsLookupFamily: r.enumValue('dns_lookup_family', DNS_LOOKUP_FAMILIES, 'AUTO'),
    circuitBreakers: parseCircuitBreakers(r.object('circuit_breakers')),
    healthChecks,
    transportSocket,
    healthyPanicThreshold: parseHealthyPanicThreshold(r),
    outlierDetection: parseOutlierDetection(r.object('outlier_detection')),
  };
}

/** `transport_socket`: TLS to the hosts (UpstreamTlsContext), or null for plaintext (raw_buffer). */
function parseUpstreamTransportSocket(r: ObjectReaderImpl, ctx: ParseContext): ExtensionConfig | null {
  const socket = r.object('transport_socket');
  const resolved = socket ? resolveExtension(socket, 'upstream_transport_socket', ctx) : null;
  if (resolved === null || (resolved.factory as UpstreamTransportSocketFactory).plaintext === true)
    return null;
  return resolved.config;
}

// ---------------------------------------------------------------- load balancing policy

function parseLbPolicy(r: ObjectReaderImpl, ctx: ParseContext): Pick<ClusterConfig, 'lbPolicy' | 'lbConfig'> {
  const enumName = readLbPolicyName(r, ctx.registry.enumNames('lb_policy'));
  let factory: ExtensionFactory | undefined;
  let lbConfig: unknown = null;
  if (r.has('load_balancing_policy')) {
    if (enumName !== 'ROUND_ROBIN' && enumName !== 'LOAD_BALANCING_POLICY_CONFIG') {
      r.error('lb_policy', 'lb_policy and load_balancing_policy cannot both be set');
    }
    const picked = pickLoadBalancingPolicy(r.requiredObject('load_balancing_policy'), ctx);
    factory = picked?.factory;
    lbConfig = picked?.config ?? null;
  } else {
    factory = ctx.registry.byEnumName('lb_policy', enumName);
    if (!factory) reportUnknownLbPolicy(r, enumName, ctx);
    else lbConfig = factory.parseConfig(r, ctx);
  }
  const policyName = factory?.enumName ?? factory?.name ?? enumName;
  for (const field of LB_CONFIG_FIELDS) {
    if (!r.isRead(field) && r.has(field)) r.error(field, `does not apply to lb_policy ${policyName}`);
  }
  return { lbPolicy: policyName, lbConfig };
}

/** The `lb_policy` enum name (any case, or its number) as registered or in Envoy's enum. */
function readLbPolicyName(r: ObjectReader, registered: readonly string[]): string {
  const raw = r.raw('lb_policy');
  if (typeof raw === 'number') return ENVOY_LB_POLICIES[raw] ?? String(raw);
  const name = r.string('lb_policy', 'ROUND_ROBIN');
  return enumByName([...registered, ...ENVOY_LB_POLICIES], name) ?? name;
}

function reportUnknownLbPolicy(r: ObjectReader, name: string, ctx: ParseContext): void {
  const registered = ctx.registry.enumNames('lb_policy');
  if (ENVOY_LB_POLICIES.includes(name))
    r.error('lb_policy', `${name} is not supported by Legate yet (Legate has ${registered.join(', ')})`);
  else r.error('lb_policy', unknownValueMessage('value', name, registered), didYouMean(name, registered));
}

/**
 * Envoy semantics: the first policy in the list that this build supports wins. Its typed_config is
 * parsed by the factory's `parseTypedConfig`; a factory without one takes no settings there.
 */
function pickLoadBalancingPolicy(
  r: ObjectReaderImpl,
  ctx: ParseContext,
): { factory: ExtensionFactory; config: unknown } | undefined {
  const policies = r.objectArray('policies');
  const names: string[] = [];
  for (const policy of policies) {
    const ext = policy.requiredObject('typed_extension_config');
    const name = ext.requiredString('name');
    names.push(name);
    const typeUrl = (ext.raw('typed_config') as Record<string, unknown> | undefined)?.['@type'];
    const factory =
      (typeof typeUrl === 'string' ? ctx.registry.byTypeUrl('lb_policy', typeUrl) : undefined) ??
      ctx.registry.byNameOrAlias('lb_policy', name)?.factory;
    if (!factory) continue;
    // The policies after the chosen one are fallbacks this build does not need.
    for (const fallback of policies.slice(policies.indexOf(policy) + 1))
      fallback.raw('typed_extension_config');
    const typed = ext.object('typed_config');
    typed?.string('@type');
    if (isLbPolicyFactory(factory) && factory.parseTypedConfig)
      return { factory, config: factory.parseTypedConfig(typed, ctx) };
    for (const field of typed?.presentFields() ?? []) {
      if (field !== '@type')
        typed!.unsupported(
          field,
          'settings inside load_balancing_policy; use lb_policy with its *_lb_config',
        );
    }
    return { factory, config: factory.parseConfig(null, ctx) };
  }
  r.error(
    'policies',
    `none of the policies is supported by Legate (${names.join(', ')})`,
    `Legate has: ${ctx.registry.names('lb_policy').join(', ')}`,
  );
  return undefined;
}

// ---------------------------------------------------------------- endpoints

/** The registered cluster type of the enum name `type` (the reader accepted it from the same list). */
function clusterTypeOf(ctx: ParseContext, type: string): ClusterTypeFactory | null {
  const factory = ctx.registry.byEnumName('cluster_type', type);
  return factory !== undefined && isClusterTypeFactory(factory) ? factory : null;
}

/** What the host table needs to know of the cluster's type (nothing when the type is in error). */
function slotsOf(
  type: ClusterTypeFactory | null,
  endpoints: readonly EndpointConfig[],
): Pick<ClusterConfig, 'slotCapacity' | 'slotPerEndpoint'> {
  return type === null
    ? { slotCapacity: 0, slotPerEndpoint: false }
    : { slotCapacity: type.slotCapacity(endpoints), slotPerEndpoint: type.slotPerEndpoint };
}

/**
 * `eds_cluster_config` of an EDS cluster: the xDS file holding its ClusterLoadAssignment, and the
 * name it has there (`service_name`, default the cluster's name). Null for other types.
 */
function parseEdsClusterConfig(r: ObjectReaderImpl, type: string, name: string): ClusterConfig['eds'] {
  if (type !== 'EDS') {
    if (r.has('eds_cluster_config') && !r.failed('type'))
      r.error('eds_cluster_config', `applies to EDS clusters only (this one is ${type})`);
    return null;
  }
  if (r.has('load_assignment'))
    r.error('load_assignment', 'an EDS cluster takes its endpoints from eds_cluster_config.eds_config');
  const eds = r.requiredObject('eds_cluster_config');
  if (!eds.has('eds_config')) eds.error('eds_config', 'an EDS cluster needs the source of its endpoints');
  const source = parseConfigSource(eds, 'eds_config');
  return source === null ? null : { source, serviceName: eds.string('service_name') || name };
}

/**
 * A ClusterLoadAssignment's endpoints (a cluster's `load_assignment`, or an EDS resource). `type`
 * is null when the cluster's type is in error (reported there): no per-type checks then.
 */
export function parseEndpoints(
  assignment: ObjectReader | null,
  type: ClusterTypeFactory | null,
): EndpointConfig[] {
  if (!assignment) return [];
  rejectUnsupported(assignment, ['named_endpoints']);
  assignment.string('cluster_name');
  const endpoints: EndpointConfig[] = [];
  for (const locality of assignment.objectArray('endpoints')) {
    // Which zone the endpoints are in, and its weight: Envoy uses them for zone-aware routing and
    // locality_weighted_lb_config only, which Legate does not have (so, like Envoy without them, it ignores them).
    locality.raw('locality');
    locality.raw('load_balancing_weight');
    rejectUnsupported(locality, [
      'metadata',
      'proximity',
      'load_balancer_endpoints',
      'leds_cluster_locality_config',
    ]);
    const priority = locality.uint('priority', 0, { max: 128 });
    for (const lbEndpoint of locality.objectArray('lb_endpoints')) {
      rejectUnsupported(lbEndpoint, ['endpoint_name', 'metadata']);
      const endpoint = lbEndpoint.requiredObject('endpoint');
      rejectUnsupported(endpoint, ['hostname', 'additional_addresses']);
      const address = parseAddress(endpoint, 'address', {
        requireIp: type?.endpointAddresses === 'ip',
        allowPortZero: false,
        ipHint: `${type?.enumName} clusters need IP addresses; use type: STRICT_DNS (or LOGICAL_DNS) for host names`,
      });
      // Host names as DNS has them, and with '_' as Docker Compose names its services (`web_service`).
      if (
        type?.endpointAddresses === 'hostname' &&
        isIP(address.address) === 0 &&
        address.address !== '' &&
        !/^[a-z0-9._-]+$/i.test(address.address)
      ) {
        endpoint.error('address', `'${address.address}' is not a valid host name`);
      }
      endpoints.push({
        address,
        weight: lbEndpoint.wrappedUint('load_balancing_weight', 1, { min: 1 }),
        priority,
        ...parseHealthCheckPort(endpoint, type),
        ...parseHealthStatus(lbEndpoint, type),
      });
    }
  }
  const exact = type?.exactEndpoints;
  if (exact !== undefined && endpoints.length !== exact) {
    assignment.error(
      'endpoints',
      `${type!.enumName} clusters need exactly ${exact === 1 ? 'one endpoint' : `${exact} endpoints`}, found ${endpoints.length}`,
    );
  }
  return endpoints;
}

/**
 * `health_status` (what the control plane knows of the endpoint's health): UNHEALTHY, DRAINING and
 * TIMEOUT take the host out of load balancing (Envoy's failed_eds_health); UNKNOWN and HEALTHY
 * leave it to the active checker and outlier detection. Only where each endpoint is one host.
 */
function parseHealthStatus(
  lbEndpoint: ObjectReader,
  type: ClusterTypeFactory | null,
): Pick<EndpointConfig, 'healthStatus'> {
  const status = lbEndpoint.enumValue('health_status', HEALTH_STATUSES, 'UNKNOWN');
  if (status === 'DEGRADED')
    lbEndpoint.unsupported('health_status', 'DEGRADED (Legate has no degraded hosts)');
  if (status !== 'UNKNOWN' && status !== 'HEALTHY' && type !== null && !type.slotPerEndpoint)
    lbEndpoint.unsupported('health_status', `on ${type.enumName} clusters`);
  return status === 'UNHEALTHY' || status === 'DRAINING' || status === 'TIMEOUT'
    ? { healthStatus: status }
    : {};
}

/** Envoy's config.core.v3.HealthStatus. */
const HEALTH_STATUSES = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'] as const;

/** `load_assignment.policy`: how priority levels share load (src/upstream/lb/priority-load.ts). */
export function parseAssignmentPolicy(
  policy: ObjectReader | null,
): Pick<ClusterConfig, 'overprovisioningFactor' | 'weightedPriorityHealth'> {
  if (policy === null)
    return { overprovisioningFactor: DEFAULT_OVERPROVISIONING_FACTOR, weightedPriorityHealth: false };
  rejectUnsupported(policy, ['drop_overloads', 'endpoint_stale_after']);
  const config = {
    overprovisioningFactor: policy.wrappedUint('overprovisioning_factor', DEFAULT_OVERPROVISIONING_FACTOR, {
      min: 1,
    }),
    weightedPriorityHealth: policy.bool('weighted_priority_health', false),
  };
  policy.done();
  return config;
}

/** `endpoint.health_check_config.port_value` (STATIC clusters: DNS hosts are not tied to an endpoint). */
function parseHealthCheckPort(
  endpoint: ObjectReader,
  type: ClusterTypeFactory | null,
): Pick<EndpointConfig, 'healthCheckPort'> {
  const hc = endpoint.object('health_check_config');
  if (hc === null) return {};
  rejectUnsupported(hc, ['hostname', 'address', 'disable_active_health_check']);
  const port = hc.uint('port_value', 0, { max: 65535 });
  if (port !== 0 && type !== null && !type.slotPerEndpoint)
    hc.unsupported('port_value', `on ${type.enumName} clusters`);
  return port === 0 ? {} : { healthCheckPort: port };
}

// ---------------------------------------------------------------- upstream HTTP options

/**
 * Idle timeout and requests per connection, from the cluster's `common_http_protocol_options`, the
 * deprecated cluster `max_requests_per_connection`, or the modern
 * `typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']`.
 */
function parseUpstreamHttpOptions(r: ObjectReaderImpl): UpstreamHttpOptions {
  const options: UpstreamHttpOptions = {
    idleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    maxStreamDurationMs: 0,
    http2: null,
    alpn: false,
    downstreamProtocol: false,
    autoSni: false,
    autoSanValidation: false,
    overrideAutoSniHeader: '',
  };
  const legacyUpstream = r.object('upstream_http_protocol_options');
  if (legacyUpstream !== null) {
    r.warn('upstream_http_protocol_options', 'deprecated; use typed_extension_protocol_options');
    readUpstreamHttpProtocolOptions(legacyUpstream, options);
  }
  const legacyHttp2 = r.object('http2_protocol_options');
  if (legacyHttp2 !== null) {
    r.warn(
      'http2_protocol_options',
      'deprecated; use typed_extension_protocol_options with explicit_http_config',
    );
    options.http2 = parseHttp2ProtocolOptions(legacyHttp2);
  }
  if (
    r.deprecated(
      'max_requests_per_connection',
      'use common_http_protocol_options.max_requests_per_connection',
    )
  ) {
    options.maxRequestsPerConnection = r.wrappedUint('max_requests_per_connection', 0);
  }
  readCommonOptions(r.object('common_http_protocol_options'), options);
  const typed = r.object('typed_extension_protocol_options');
  for (const key of typed?.presentFields() ?? []) {
    if (key !== HTTP_PROTOCOL_OPTIONS_KEY) {
      typed!.unsupported(key);
      continue;
    }
    const http = typed!.requiredObject(key);
    if (http.requiredString('@type').replace(/^type\.googleapis\.com\//, '') !== HTTP_PROTOCOL_OPTIONS_KEY) {
      http.error('@type', `must be type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`);
    }
    readUpstreamHttpProtocolOptions(http.object('upstream_http_protocol_options'), options);
    rejectUnsupported(http, ['http_filters', 'header_validation_config']);
    http.oneOf(['explicit_http_config', 'use_downstream_protocol_config', 'auto_config'], false);
    const explicit = http.object('explicit_http_config');
    if (explicit) {
      rejectUnsupported(explicit, ['http3_protocol_options']);
      explicit.oneOf(['http_protocol_options', 'http2_protocol_options', 'http3_protocol_options'], true);
      const h2 = explicit.object('http2_protocol_options');
      if (h2 !== null) options.http2 = parseHttp2ProtocolOptions(h2);
      const http1 = explicit.object('http_protocol_options');
      for (const field of http1?.presentFields() ?? []) http1!.unsupported(field);
    }
    const auto = http.object('auto_config');
    if (auto) {
      rejectUnsupported(auto, ['http3_protocol_options', 'alternate_protocols_cache_options']);
      const h2 = auto.object('http2_protocol_options');
      options.http2 = parseHttp2ProtocolOptions(h2);
      const http1 = auto.object('http_protocol_options');
      for (const field of http1?.presentFields() ?? []) http1!.unsupported(field);
      options.alpn = true;
    }
    const downstream = http.object('use_downstream_protocol_config');
    if (downstream) {
      rejectUnsupported(downstream, ['http3_protocol_options']);
      options.http2 = parseHttp2ProtocolOptions(downstream.object('http2_protocol_options'));
      const http1 = downstream.object('http_protocol_options');
      for (const field of http1?.presentFields() ?? []) http1!.unsupported(field);
      options.downstreamProtocol = true;
    }
    readCommonOptions(http.object('common_http_protocol_options'), options);
  }
  return options;
}

/** auto_sni, auto_san_validation and override_auto_sni_header (Envoy's UpstreamHttpProtocolOptions). */
function readUpstreamHttpProtocolOptions(r: ObjectReader | null, into: UpstreamHttpOptions): void {
  if (!r) return;
  into.autoSni = r.bool('auto_sni', false);
  into.autoSanValidation = r.bool('auto_san_validation', false);
  into.overrideAutoSniHeader = r.string('override_auto_sni_header', '').toLowerCase();
}

function readCommonOptions(common: ObjectReader | null, into: UpstreamHttpOptions): void {
  if (!common) return;
  rejectUnsupported(common, UNSUPPORTED_COMMON_OPTIONS);
  into.idleTimeoutMs = common.durationMs('idle_timeout', into.idleTimeoutMs);
  into.maxRequestsPerConnection = common.wrappedUint(
    'max_requests_per_connection',
    into.maxRequestsPerConnection,
  );
  into.maxStreamDurationMs = common.durationMs('max_stream_duration', into.maxStreamDurationMs);
}
