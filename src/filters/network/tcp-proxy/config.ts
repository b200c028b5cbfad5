/**
 * Parses Envoy's `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy` (primary thread) into
 * plain data with Envoy's defaults: `idle_timeout` 1 h (0 disables), no downstream/upstream idle
 * timeouts, `max_connect_attempts` 1, no connection duration limit.
 */
import { parseAccessLogs } from '../../../access-log/access-logs';
import { compileFormat } from '../../../access-log/format-string';
import type { ExtensionConfig, HeaderValueOption } from '../../../config/bootstrap';
import { parseHeadersToAdd } from '../../../config/route/header-mutations';
import type { ObjectReader } from '../../../config/config-reader';
import { rejectUnsupported } from '../../../config/unsupported';
import type { ParseContext } from '../../../registry/registry';

export interface TcpProxyClusterWeight {
  name: string;
  weight: number;
}

export interface TcpProxyConfig {
  statPrefix: string;
  /** The upstream clusters; one entry of weight 1 for a plain `cluster`. */
  clusters: TcpProxyClusterWeight[];
  /** No bytes either way for this long closes both connections; 0 = never. */
  idleTimeoutMs: number;
  downstreamIdleTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
  /** Upstream connect attempts (each with a fresh host pick) before the downstream is closed. */
  maxConnectAttempts: number;
  /** 0 = unlimited. */
  maxDownstreamConnectionDurationMs: number;
  /** hash_policy `source_ip`: consistent-hashing LBs get a hash of the downstream address. */
  hashSourceIp: boolean;
  /** `access_log[]`: one line per session, when it ends. */
  accessLog: ExtensionConfig[];
  /** `tunneling_config`: the upstream is an HTTP/1.1 proxy, asked with CONNECT; null: plain TCP. */
  tunneling: TunnelingConfig | null;
}

export interface TunnelingConfig {
  /**
   * The CONNECT target (`host:port`), also sent as Host. It and the header values may hold the
   * access log's command operators (%DOWNSTREAM_LOCAL_PORT% …), evaluated per connection.
   */
  hostname: string;
  headersToAdd: HeaderValueOption[];
}

const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

const UNSUPPORTED_FIELDS = [
  'metadata_match',
  'on_demand',
  'access_log_options',
  'access_log_flush_interval',
  'flush_access_log_on_connected',
  'backoff_options',
  'max_early_data_bytes',
  'proxy_protocol_tlvs',
  'deprecated_v1',
] as const;

export function parseTcpProxy(r: ObjectReader, ctx: ParseContext): TcpProxyConfig {
  rejectUnsupported(r, UNSUPPORTED_FIELDS);
  const statPrefix = r.requiredString('stat_prefix');
  const specifier = r.oneOf(['cluster', 'weighted_clusters'], true);
  let clusters: TcpProxyClusterWeight[] = [];
  if (specifier === 'cluster') {
    const name = r.requiredString('cluster');
    if (name) ctx.referenceCluster?.(r, 'cluster', name);
    clusters = [{ name, weight: 1 }];
  } else if (specifier === 'weighted_clusters') {
    clusters = parseWeightedClusters(r.requiredObject('weighted_clusters'), ctx);
  }
  return {
    statPrefix,
    clusters,
    idleTimeoutMs: r.durationMs('idle_timeout', DEFAULT_IDLE_TIMEOUT_MS),
    downstreamIdleTimeoutMs: r.durationMs('downstream_idle_timeout', 0),
    upstreamIdleTimeoutMs: r.durationMs('upstream_idle_timeout', 0),
    maxConnectAttempts: r.wrappedUint('max_connect_attempts', 1, { min: 1 }),
    maxDownstreamConnectionDurationMs: r.durationMs('max_downstream_connection_duration', 0),
    hashSourceIp: parseHashPolicy(r),
    accessLog: parseAccessLogs(r, ctx),
    tunneling: parseTunnelingConfig(r.object('tunneling_config')),
  };
}

/**
 * `tunneling_config`: CONNECT tunnels, `hostname` and `headers_to_add` values with the access
 * log's command operators (each checked here). Not supported: POST tunnels, propagated response
 * headers or trailers.
 */
function parseTunnelingConfig(r: ObjectReader | null): TunnelingConfig | null {
  if (r === null) return null;
  rejectUnsupported(r, ['post_path', 'request_id_extension', 'request_id_header', 'request_id_metadata_key']);
  if (r.bool('use_post', false)) r.error('use_post', 'not supported by Legate yet: tunnels use CONNECT');
  for (const field of ['propagate_response_headers', 'propagate_response_trailers'])
    if (r.bool(field, false)) r.error(field, 'not supported by Legate yet (Legate has no filter state)');
  const hostname = r.requiredString('hostname');
  if (hostname.includes('%')) checkCommandOperators(r, 'hostname', hostname);
  else if (hostname !== '' && !/^[^\s/?#@]+:\d{1,5}$/.test(hostname))
    r.error('hostname', `'${hostname}' is not host:port`);
  const headersToAdd = parseHeadersToAdd(r, 'request', 'headers_to_add');
  for (const h of headersToAdd) checkCommandOperators(r, 'headers_to_add', h.value);
  return { hostname, headersToAdd };
}

/** Reports a value whose command operators the access-log formatter does not take. */
function checkCommandOperators(r: ObjectReader, field: string, value: string): void {
  try {
    compileFormat(value);
  } catch (err) {
    r.error(field, (err as Error).message);
  }
}

function parseWeightedClusters(r: ObjectReader, ctx: ParseContext): TcpProxyClusterWeight[] {
  const entries = r.objectArray('clusters').map((c) => {
    c.unsupported('metadata_match');
    const name = c.requiredString('name');
    if (name) ctx.referenceCluster?.(c, 'name', name);
    const weight = c.uint('weight', 0);
    if (weight < 1) c.error('weight', 'each weighted cluster needs a weight of at least 1');
    return { name, weight };
  });
  if (entries.length === 0) r.error('clusters', 'weighted_clusters needs at least one cluster');
  return entries;
}

/** Envoy allows at most one hash policy; Legate knows `source_ip` (the only one Envoy acts on). */
function parseHashPolicy(r: ObjectReader): boolean {
  const policies = r.objectArray('hash_policy');
  if (policies.length > 1) r.error('hash_policy', 'tcp_proxy takes at most one hash_policy');
  const policy = policies[0];
  if (!policy) return false;
  policy.unsupported('filter_state');
  policy.oneOf(['source_ip', 'filter_state'], true);
  return policy.object('source_ip') !== null;
}
