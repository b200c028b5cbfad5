/**
 * Every cluster of the bootstrap, built per worker from plain config (Envoy's ClusterManager),
 * and again for what a reload changed (`update`). The router looks clusters up by name per request (`get`); the worker awaits
 * `initialize()` before accepting traffic so DNS clusters have their first hosts.
 */
import type { ClusterConfig } from '../config/bootstrap';
import { createClientConnection } from '../http/client-connection';
import type { Registry } from '../registry/registry';
import { buildAt, buildEach } from '../config/build-error';
import { Cluster } from './cluster';
import { sameConfig } from '../config/same-config';
import { tcpSocketConnector, withCodec, type SocketConnector, type UpstreamConnector } from './transport';
import { isClusterTypeFactory, type DnsResolver, type HostDiscovery } from './discovery/api';
import { systemDnsResolver } from './discovery/dns-resolver';
import type { HostTable } from './host-table';
import { isLbPolicyFactory, type LbEnv, type LbPolicyFactory } from './lb/api';
import type { CircuitBreaker } from './circuit-breakers';
import type { ClusterStats } from '../stats/cluster-stats';
import type { StatsStore } from '../stats/store';
import type { UpstreamTransportSocketFactory } from '../transport/api';
import type { ThresholdListener } from './outlier/recorder';

export interface ClusterManagerDeps {
  readonly hostTable: HostTable;
  /** Where LB policies are found by their `lb_policy` enum name. */
  readonly registry: Registry;
  /** Uniform in [0, 1). */
  random(): number;
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** Defaults to the system resolver. */
  readonly dnsResolver?: DnsResolver;
  /** How HTTP/1.1 pools of plaintext clusters connect: defaults to TCP with Legate's JS codec. */
  readonly connector?: UpstreamConnector;
  /** This worker's stats, for what transport sockets count (absent in unit tests: no stats). */
  readonly stats?: StatsStore;
  /** Binds a cluster's stats in this worker (absent in unit tests: no stats). */
  readonly clusterStats?: (cluster: string) => ClusterStats;
  /** This worker's view of a cluster's shared circuit breaker (absent in unit tests: local ones). */
  readonly circuitBreaker?: (cluster: ClusterConfig) => CircuitBreaker;
  /** Tells the primary that a host's run of errors reached an outlier threshold (absent in unit tests). */
  readonly outlierThreshold?: ThresholdListener;
}

export class ClusterManager {
  private byName = new Map<string, Cluster>();
  /**
   * Clusters a reload removed, by name, until the listeners it replaced have drained: a request
   * on one of their connections still routes by the old route table, so it finds its cluster here.
   */
  private readonly removed = new Map<string, Cluster>();
  private readonly build: (configs: readonly ClusterConfig[]) => Cluster[];

  constructor(configs: readonly ClusterConfig[], deps: ClusterManagerDeps) {
    const lbEnv: LbEnv = {
      hostTable: deps.hostTable,
      random: () => deps.random(),
      nowMs: () => deps.nowMs(),
    };
    const plainConnector = deps.connector ?? withCodec(tcpSocketConnector, createClientConnection);
    // A cluster with a transport socket (TLS) opens its sockets through it, with Legate's JS codec
    // on top for HTTP/1.1 (the native engine opens plaintext connections only).
    const socketConnectorOf = (config: ClusterConfig): SocketConnector => {
      const socket = config.transportSocket;
      if (!socket) return tcpSocketConnector;
      const factory = deps.registry.get(
        'upstream_transport_socket',
        socket.name,
      ) as UpstreamTransportSocketFactory;
      return factory.createConnector(socket.config, {
        stats: deps.stats ?? null,
        clusterStatPrefix: `cluster.${config.name}.`,
        autoSanValidation: config.autoSanValidation ?? false,
      });
    };
    const connectorsOf = (
      config: ClusterConfig,
    ): { connector: UpstreamConnector; socketConnector: SocketConnector } => {
      const socketConnector = socketConnectorOf(config);
      const connector = config.transportSocket
        ? withCodec(socketConnector, createClientConnection)
        : plainConnector;
      return { connector, socketConnector };
    };
    const resolver = deps.dnsResolver ?? systemDnsResolver;
    this.build = (list) =>
      buildEach(list, (config) =>
        buildAt(
          config.at,
          () =>
            new Cluster(config, {
              lbFactory: lbFactoryFor(deps.registry, config.lbPolicy),
              lbEnv,
              discovery: discoveryFor(config, deps.hostTable, resolver, deps.registry),
              ...connectorsOf(config),
              http1Connector: (connect) => withCodec(connect, createClientConnection),
              // Another codec (the native engine's) cannot become a tunnel: upgrades connect in JS.
              ...(config.transportSocket || deps.connector === undefined
                ? {}
                : { tunnelConnector: withCodec(tcpSocketConnector, createClientConnection) }),
              stats: deps.clusterStats?.(config.name),
              circuitBreaker: deps.circuitBreaker?.(config),
              outlierThreshold: deps.outlierThreshold,
            }),
        ),
      );
    for (const cluster of this.build(configs)) this.byName.set(cluster.name, cluster);
  }

  /**
   * A reload's clusters (the host table, stats and circuit breakers already hold their rows): a
   * cluster whose config is unchanged stays as it is, pools and all; the others are built and
   * warmed (their first hosts known) before any of them is swapped in, all in one assignment. A
   * replaced or removed cluster stops discovery and drains: requests in flight on it finish there.
   */
  async update(configs: readonly ClusterConfig[]): Promise<void> {
    const changed = configs.filter((c) => !sameConfig(this.byName.get(c.name)?.config, c));
    const built = this.build(changed);
    await Promise.all(built.map((c) => c.initialized));
    const next = new Map<string, Cluster>();
    const fresh = new Map(built.map((c) => [c.name, c]));
    for (const c of configs) next.set(c.name, fresh.get(c.name) ?? this.byName.get(c.name)!);
    const previous = this.byName;
    this.byName = next;
    for (const [name, cluster] of previous) {
      if (next.get(name) === cluster) continue;
      cluster.retire();
      if (!next.has(name)) this.removed.set(name, cluster);
    }
    for (const name of next.keys()) this.removed.delete(name);
  }

  /** No connection routes by an older route table any more: removed clusters close. */
  releaseRemoved(): void {
    for (const cluster of this.removed.values()) cluster.close();
    this.removed.clear();
  }

  get(name: string): Cluster | undefined {
    return this.byName.get(name) ?? this.removed.get(name);
  }

  get clusters(): IterableIterator<Cluster> {
    return this.byName.values();
  }

  /** Resolves when every cluster knows its first host set. */
  async initialize(): Promise<void> {
    await Promise.all([...this.byName.values()].map((c) => c.initialized));
  }

  drain(): void {
    for (const c of this.byName.values()) c.drain();
  }

  close(): void {
    for (const c of this.byName.values()) c.close();
  }
}

function lbFactoryFor(registry: Registry, lbPolicy: string): LbPolicyFactory {
  const factory = registry.byEnumName('lb_policy', lbPolicy);
  if (factory === undefined || !isLbPolicyFactory(factory)) {
    // The config loader validated lb_policy against the same registry; reaching this is a bug.
    throw new Error(`no load balancing policy registered for lb_policy ${lbPolicy}`);
  }
  return factory;
}

/** The discovery of a cluster's type (also run by the primary's health checker, see health/checker.ts). */
export function discoveryFor(
  config: ClusterConfig,
  table: HostTable,
  resolver: DnsResolver,
  registry: Registry,
): HostDiscovery {
  const slots = table.slotsOf(config.name);
  if (slots === undefined) throw new Error(`cluster '${config.name}' has no slots in the host table`);
  const factory = registry.byEnumName('cluster_type', config.type);
  // The config loader validated `type` against the same registry; reaching this is a bug.
  if (factory === undefined || !isClusterTypeFactory(factory))
    throw new Error(`no cluster type registered for type ${config.type}`);
  return factory.createDiscovery(config, slots, table, resolver);
}
