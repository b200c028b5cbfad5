/**
 * The top of Envoy's `Bootstrap`: admin, node and static_resources. Clusters are parsed before
 * listeners so that a route naming a cluster can be checked where it is written, and duplicate
 * names and addresses are reported at the second occurrence.
 */
import { isIP } from 'node:net';
import type {
  AdminConfig,
  Bootstrap,
  ClusterConfig,
  DynamicResourcesConfig,
  ListenerConfig,
} from './bootstrap';
import type { ParseContext, Registry } from '../registry/registry';
import { parseAddress } from './address';
import { parseCluster } from './cluster';
import type { ObjectReader } from './config-reader';
import { parseListener } from './listener';
import type { ObjectReaderImpl } from './object-reader';
import { didYouMean } from './suggest';
import { rejectUnsupported } from './unsupported';
import { parseConfigSource } from './xds/config-source';
import { parseAccessLogs } from '../access-log/access-logs';
import { defaultFileAccessLog, fileAccessLoggerFactory } from '../access-log/file/factory';

const UNSUPPORTED_BOOTSTRAP_FIELDS = [
  'cluster_manager',
  'hds_config',
  'flags_path',
  'stats_sinks',
  'deferred_stat_options',
  'stats_config',
  'stats_flush_interval',
  'stats_flush_on_admin',
  'watchdog',
  'watchdogs',
  'tracing',
  'layered_runtime',
  'overload_manager',
  'enable_dispatcher_stats',
  'header_prefix',
  'stats_server_version_override',
  'use_tcp_for_dns_lookups',
  'dns_resolution_config',
  'typed_dns_resolver_config',
  'bootstrap_extensions',
  'fatal_actions',
  'config_sources',
  'default_config_source',
  'default_socket_interface',
  'certificate_provider_instances',
  'inline_headers',
  'perf_tracing_file_path',
  'default_regex_engine',
  'xds_delegate_extension',
  'xds_config_tracker_extension',
  'listener_manager',
  'application_log_config',
  'grpc_async_client_manager_config',
  'memory_allocator_manager',
] as const;

export function parseBootstrap(root: ObjectReader, registry: Registry, sourcePath: string): Bootstrap {
  rejectUnsupported(root, UNSUPPORTED_BOOTSTRAP_FIELDS);
  parseNode(root);
  const resources = root.object('static_resources');
  if (resources) rejectUnsupported(resources, ['secrets']);
  const clusterReaders = (resources?.objectArray('clusters') ?? []) as ObjectReaderImpl[];
  const clusterNames = new Set<string>();
  const ctx = parseContext(registry, clusterNames);
  const admin = parseAdmin(root, ctx);
  const clusters = clusterReaders.map((r) => parseCluster(r, ctx));
  checkUnique(clusterReaders, clusters, 'cluster');
  for (const c of clusters) clusterNames.add(c.name);
  const listenerReaders = resources?.objectArray('listeners') ?? [];
  const listeners = listenerReaders.map((r) => parseListener(r, ctx));
  checkUnique(listenerReaders, listeners, 'listener');
  checkDistinctAddresses(listenerReaders, listeners);
  const dynamicResources = parseDynamicResources(root);
  return { admin, listeners, clusters, sourcePath, ...(dynamicResources ? { dynamicResources } : {}) };
}

/**
 * What parsers of one load share: the registry, the singletons, and the cluster names a route or
 * tcp_proxy may name (`clusterNames`, filled before listeners are parsed).
 */
export function parseContext(registry: Registry, clusterNames: ReadonlySet<string>): ParseContext {
  return {
    registry,
    singletons: new Map(),
    referenceCluster(reader, field, cluster) {
      if (!clusterNames.has(cluster))
        reader.error(field, `unknown cluster '${cluster}'`, didYouMean(cluster, clusterNames));
    },
  };
}

/** `dynamic_resources`: CDS and LDS from files (config/xds); gRPC xDS (`ads_config`) is not there yet. */
function parseDynamicResources(root: ObjectReader): DynamicResourcesConfig | undefined {
  const dynamic = root.object('dynamic_resources');
  if (dynamic === null) return undefined;
  rejectUnsupported(dynamic, ['ads_config', 'lds_resources_locator', 'cds_resources_locator']);
  return { cds: parseConfigSource(dynamic, 'cds_config'), lds: parseConfigSource(dynamic, 'lds_config') };
}

/** `node` only labels this proxy (id, cluster); Legate accepts those two. */
function parseNode(root: ObjectReader): void {
  const node = root.object('node');
  if (!node) return;
  rejectUnsupported(node, [
    'metadata',
    'locality',
    'user_agent_name',
    'user_agent_version',
    'user_agent_build_version',
    'extensions',
    'client_features',
    'listening_addresses',
    'dynamic_parameters',
  ]);
  node.string('id');
  node.string('cluster');
}

function parseAdmin(root: ObjectReader, ctx: ParseContext): AdminConfig | null {
  const admin = root.object('admin');
  if (!admin) return null;
  rejectUnsupported(admin, ['profile_path', 'socket_options', 'ignore_global_conn_limit', 'allow_paths']);
  const accessLog = parseAccessLogs(admin, ctx);
  if (admin.deprecated('access_log_path', 'use access_log')) {
    accessLog.push({
      at: `${admin.path}.access_log_path`,
      name: fileAccessLoggerFactory.name,
      configName: fileAccessLoggerFactory.name,
      config: defaultFileAccessLog(admin.string('access_log_path')),
    });
  }
  // As in Envoy, admin without an address means no admin server.
  if (!admin.has('address')) return null;
  const address = parseAddress(admin, 'address', { requireIp: true, allowPortZero: true });
  return { address, accessLog };
}

/**
 * Reports the second of two items with one name; `fixed` are items already in place (the static
 * ones, when `items` come from an xDS file), which the first of `items` may clash with too.
 */
export function checkUnique(
  readers: readonly ObjectReader[],
  items: readonly (ClusterConfig | ListenerConfig)[],
  what: string,
  fixed: readonly (ClusterConfig | ListenerConfig)[] = [],
): void {
  const seen = new Map<string, string>(fixed.map((f) => [f.name, f.at]));
  items.forEach((item, i) => {
    const first = seen.get(item.name);
    if (first !== undefined && item.name !== '')
      readers[i]!.error('name', `duplicate ${what} name '${item.name}' (also ${first})`);
    else seen.set(item.name, item.at);
  });
}

/**
 * Two listeners cannot bind the same port on overlapping addresses (port 0 always differs);
 * `fixed` are listeners already in place (see checkUnique).
 */
export function checkDistinctAddresses(
  readers: readonly ObjectReader[],
  listeners: readonly ListenerConfig[],
  fixed: readonly ListenerConfig[] = [],
): void {
  listeners.forEach((l, i) => {
    if (l.address.port === 0) return;
    const clash = [...fixed, ...listeners.slice(0, i)].find(
      (other) =>
        other.address.port === l.address.port && addressesOverlap(other.address.address, l.address.address),
    );
    if (clash) {
      readers[i]!.error(
        'address',
        `${l.address.address}:${l.address.port} is also bound by ${clash.at} ('${clash.name}' on ${clash.address.address}:${clash.address.port})`,
      );
    }
  });
}

/** Same address, or a wildcard of the same family; '::' is dual-stack on Linux and takes IPv4 too. */
function addressesOverlap(a: string, b: string): boolean {
  if (a === b || a === '::' || b === '::') return true;
  return (a === '0.0.0.0' || b === '0.0.0.0') && isIP(a) === 4 && isIP(b) === 4;
}
