/**
 * One upstream cluster as a worker sees it (Envoy's `Cluster` + its thread-local host set): the
 * current hosts, the load balancer over them, and one connection pool per host, created on first
 * use. Host-set changes from discovery (DNS) and health changes swap in a new LB in one assignment,
 * so a pick always sees a consistent set; pools of removed hosts drain (requests in flight finish).
 * The cluster's circuit breaker (shared by every worker) bounds pools, connections and requests.
 */
import type { ClusterConfig } from '../config/bootstrap';
import { preciseMonotonicMs } from '../common/precise-clock';
import { Http1ConnPool } from './conn-pool';
import { Http2ConnPool } from './h2-conn-pool';
import type { Cancellable, ConnPool, PoolCallbacks } from './pool';
import { openTcpTunnel } from './tcp-tunnel';
import type { SocketConnector, UpstreamConnector } from './transport';
import { AlpnConnPool, primedConnector, type AlpnProtocol } from './alpn-conn-pool';
import type { RequestHead, ResponseDecoder } from '../http/codec';
import { isIP } from 'node:net';
import { DEFAULT_HTTP2_OPTIONS } from '../config/http2-options';
import type { HostDiscovery } from './discovery/api';
import type { Host } from './host';
import type { ClusterSlots, HostTable } from './host-table';
import type { LbContext, LbEnv, LbPolicyFactory, LoadBalancer } from './lb/api';
import { NO_HOST_LB } from './lb/host-set';
import {
  DEFAULT_HEALTHY_PANIC_THRESHOLD,
  DEFAULT_OVERPROVISIONING_FACTOR,
  type PrioritySettings,
} from './lb/priority-load';
import { buildPrioritySet } from './lb/priority-set-lb';
import { localCircuitBreaker, type CircuitBreaker } from './circuit-breakers';
import type { ClusterStats } from '../stats/cluster-stats';
import { OutlierRecorder, type ThresholdListener } from './outlier/recorder';

export interface ClusterDeps {
  readonly lbFactory: LbPolicyFactory;
  readonly lbEnv: LbEnv;
  readonly discovery: HostDiscovery;
  /** How the HTTP/1.1 pools connect (a codec on each connection). */
  readonly connector: UpstreamConnector;
  /** How the HTTP/2 pools open their sockets (TCP, or the cluster's TLS). */
  readonly socketConnector: SocketConnector;
  /** Legate's HTTP/1.1 codec over sockets `connect` opens (auto_config's HTTP/1.1 pools). */
  http1Connector(connect: SocketConnector): UpstreamConnector;
  /**
   * Opens connections whose codec can become a tunnel (Legate's JS codec), for upgrade requests;
   * absent: `connector`'s can.
   */
  readonly tunnelConnector?: UpstreamConnector;
  /**
   * The cluster's DEFAULT-priority circuit breaker in this worker (Legate routes have no priority
   * yet). Absent in unit tests: a breaker local to this cluster, with the config's thresholds.
   */
  readonly circuitBreaker?: CircuitBreaker;
  /** This worker's `cluster.<name>.*` stats (absent in unit tests). */
  readonly stats?: ClusterStats;
  /** Tells the primary that a host's run of errors reached an outlier threshold (absent in unit tests). */
  readonly outlierThreshold?: ThresholdListener;
}

export class Cluster {
  readonly name: string;
  /** Resolves once the first host set is known (immediately for STATIC, after the first lookup for DNS). */
  readonly initialized: Promise<void>;
  private currentHosts: readonly Host[] = [];
  private lb: LoadBalancer = NO_HOST_LB;
  private readonly pools = new Map<Host, ConnPool>();
  private readonly table: HostTable;
  private readonly nowMs = (): number => this.deps.lbEnv.nowMs();
  readonly circuitBreaker: CircuitBreaker;
  /** Where the router reports upstream outcomes; null when the cluster has no outlier_detection. */
  readonly outlier: OutlierRecorder | null;
  /** How this cluster's priority levels share load and when they panic. */
  private readonly priorities: PrioritySettings;
  /** This cluster's rows in the host table, whose health generation `chooseHost` watches. */
  private readonly slots: ClusterSlots;
  /** The health generation the current LB was built at. */
  private healthGeneration = 0;
  /**
   * Per priority: the level is in panic (its balancer ignores health) and a pick from it counts
   * lb_healthy_panic. Null when no level that takes traffic is in panic.
   */
  private panicByPriority: readonly boolean[] | null = null;

  constructor(
    readonly config: ClusterConfig,
    private readonly deps: ClusterDeps,
  ) {
    this.name = config.name;
    this.table = deps.lbEnv.hostTable;
    this.priorities = {
      healthyPanicThreshold: config.healthyPanicThreshold ?? DEFAULT_HEALTHY_PANIC_THRESHOLD,
      overprovisioningFactor: config.overprovisioningFactor ?? DEFAULT_OVERPROVISIONING_FACTOR,
      weightedPriorityHealth: config.weightedPriorityHealth ?? false,
    };
    this.slots = this.table.slotsOf(config.name) ?? { name: config.name, firstSlot: 0, capacity: 0 };
    this.circuitBreaker = deps.circuitBreaker ?? localCircuitBreaker(config);
    const od = config.outlierDetection;
    this.outlier = od
      ? new OutlierRecorder(this.table, od, this.slots.capacity, deps.outlierThreshold)
      : null;
    this.initialized = new Promise((resolve) =>
      deps.discovery.start((hosts) => this.setHosts(hosts), resolve),
    );
  }

  get hosts(): readonly Host[] {
    return this.currentHosts;
  }

  /** Picks the host for one request, or null when the cluster has no usable host (503, flag UH). */
  chooseHost(ctx: LbContext): Host | null {
    // The primary's health checker and outlier detector bump the generation on every change: one
    // plain read per pick makes every worker switch within one pick of a change.
    if (this.table.healthGeneration(this.slots) !== this.healthGeneration) this.onHostHealthChanged();
    const host = this.lb.chooseHost(ctx);
    if (this.panicByPriority !== null && host !== null && this.panicByPriority[host.priority])
      this.deps.stats?.lbHealthyPanic.inc();
    return host;
  }

  /**
   * Response headers arrived for a request attached to a connection of `host` at `attachedAtMs`
   * (preciseMonotonicMs): one RTT sample for the host's shared Peak EWMA (ignored unless a
   * PEAK_EWMA balancer tracks the host).
   */
  recordRtt(host: Host, attachedAtMs: number): void {
    if (attachedAtMs === 0) return;
    const now = preciseMonotonicMs();
    this.table.recordRtt(host.slot, now - attachedAtMs, now);
  }

  /**
   * The start of an RTT sample for a request attached to `host` now, or 0 when no balancer tracks
   * the host's RTT: clusters that are not PEAK_EWMA skip the two clock reads per request.
   */
  rttStart(host: Host): number {
    return this.table.tracksRtt(host.slot) ? preciseMonotonicMs() : 0;
  }

  /**
   * The connection pool of `host` (a host of this cluster) in this worker for `request`; null when a
   * new pool would exceed max_connection_pools (Envoy then answers as if no host were healthy). One
   * pool per host, unless connections differ by request: auto_sni (the request's Host is the TLS
   * server name) and use_downstream_protocol_config (the request's protocol is the upstream's).
   */
  pool(host: Host, request?: RequestHead): ConnPool | null {
    if (this.poolsPerRequestKind || (request?.upgrade === true && this.deps.tunnelConnector !== undefined))
      return this.poolFor(host, request);
    const pool = this.pools.get(host);
    if (pool !== undefined) return pool;
    const created = this.newPool(host, undefined, this.config.http2 ? 'h2' : 'http/1.1');
    if (created !== null) this.pools.set(host, created);
    return created;
  }

  private get poolsPerRequestKind(): boolean {
    return this.config.autoSni === true || this.config.downstreamProtocol === true;
  }

  /**
   * A pool per host, server name (auto_sni) and protocol (use_downstream_protocol_config), and for
   * upgrade requests when the cluster's connections cannot become tunnels (the native engine's).
   */
  private poolFor(host: Host, request: RequestHead | undefined): ConnPool | null {
    const { config } = this;
    const serverName =
      config.autoSni && request !== undefined
        ? serverNameOf(request, config.overrideAutoSniHeader ?? '')
        : undefined;
    const protocol: AlpnProtocol =
      config.downstreamProtocol === true
        ? request?.protocol === 'HTTP/2'
          ? 'h2'
          : 'http/1.1'
        : config.http2
          ? 'h2'
          : 'http/1.1';
    const tunnel = request?.upgrade === true && this.deps.tunnelConnector !== undefined;
    const key = `${host.key}/${serverName ?? ''}/${protocol}${tunnel ? '/tunnel' : ''}`;
    const pool = this.keyedPools.get(key);
    if (pool !== undefined) return pool;
    const created = this.newPool(host, serverName, tunnel ? 'tunnel' : protocol);
    if (created !== null) this.keyedPools.set(key, created);
    return created;
  }
  private readonly keyedPools = new Map<string, ConnPool>();

  /** Every pool of the cluster in this worker. */
  private *allPools(): IterableIterator<ConnPool> {
    yield* this.pools.values();
    yield* this.keyedPools.values();
  }

  /** A new pool (within max_connection_pools) for `protocol`, or for upgrade requests (`tunnel`). */
  private newPool(
    host: Host,
    serverName: string | undefined,
    protocol: AlpnProtocol | 'tunnel',
  ): ConnPool | null {
    if (!this.circuitBreaker.tryCreatePool()) return null;
    const { config, deps } = this;
    return config.alpn
      ? new AlpnConnPool(host, {
          connector: deps.socketConnector,
          connect: { serverName, alpn: ['h2', 'http/1.1'] },
          connectTimeoutMs: config.connectTimeoutMs,
          circuitBreaker: this.circuitBreaker,
          table: this.table,
          stats: deps.stats,
          createPool: (protocol, first) => {
            const connect =
              first === null ? deps.socketConnector : primedConnector(first, deps.socketConnector);
            return this.protocolPool(host, protocol, connect, serverName);
          },
        })
      : this.protocolPool(host, protocol, null, serverName);
  }

  /**
   * A pool of one protocol for `host`, opening its sockets with `connect` (null: the cluster's own)
   * for TLS server name `serverName` (auto_sni; undefined: the cluster's).
   */
  private protocolPool(
    host: Host,
    protocol: AlpnProtocol | 'tunnel',
    connect: SocketConnector | null,
    serverName: string | undefined,
  ): ConnPool {
    const { config, deps } = this;
    const common = {
      connectTimeoutMs: config.connectTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxRequestsPerConnection: config.maxRequestsPerConnection,
      circuitBreaker: this.circuitBreaker,
      nowMs: this.nowMs,
      stats: deps.stats,
    };
    if (protocol === 'h2') {
      return new Http2ConnPool(host, this.table, {
        ...common,
        http2: config.http2 ?? DEFAULT_HTTP2_OPTIONS,
        connector: connect ?? deps.socketConnector,
        // Through TLS, HTTP/2 is offered by ALPN (when the context lists no protocols), as Envoy does.
        connect: { serverName, alpn: ['h2'] },
        scheme: config.transportSocket ? 'https' : 'http',
      });
    }
    // No ALPN for HTTP/1.1: a host assumes it without one. Upgrade requests go on connections whose
    // codec can become a tunnel (`tunnel`: when the cluster's own cannot, the native engine's).
    const connector =
      protocol === 'tunnel'
        ? deps.tunnelConnector!
        : connect === null
          ? deps.connector
          : deps.http1Connector(connect);
    return new Http1ConnPool(host, this.table, { ...common, connector, connect: { serverName } });
  }

  /**
   * A TCP connection to `host` for a terminated CONNECT (tcp-tunnel.ts), counted in this cluster's
   * stats, with its connect_timeout.
   */
  tcpTunnel(host: Host, decoder: ResponseDecoder, callbacks: PoolCallbacks): Cancellable {
    return openTcpTunnel(host, decoder, callbacks, {
      connectTimeoutMs: this.config.connectTimeoutMs,
      nowMs: this.nowMs,
      stats: this.deps.stats,
    });
  }

  /** A health flag of one of the hosts changed: rebuild the LB so it sees the new flags. */
  onHostHealthChanged(): void {
    this.healthGeneration = this.table.healthGeneration(this.slots);
    for (const h of this.currentHosts) h.healthy = h.edsHealthy && this.table.isHostUsable(h.slot);
    const set = buildPrioritySet(
      this.currentHosts,
      this.deps.lbFactory,
      this.config.lbConfig,
      this.deps.lbEnv,
      this.priorities,
    );
    this.lb = set.lb;
    this.panicByPriority = set.panic;
    this.deps.stats?.setMembership(this.currentHosts);
  }

  /** Closes idle connections of every pool, and busy ones as their requests complete. */
  drain(): void {
    for (const pool of this.allPools()) pool.drain();
  }

  /**
   * A reload replaced or removed this cluster: stops discovery and drains every pool (idle
   * connections close now, busy ones when their requests complete).
   */
  retire(): void {
    this.deps.discovery.stop();
    this.releasePools((pool) => pool.drain());
  }

  /** Stops discovery and closes every connection now. */
  close(): void {
    this.deps.discovery.stop();
    this.releasePools((pool) => pool.close());
  }

  private releasePools(release: (pool: ConnPool) => void): void {
    for (const pool of this.allPools()) {
      release(pool);
      this.circuitBreaker.poolRemoved();
    }
    this.pools.clear();
    this.keyedPools.clear();
  }

  private setHosts(hosts: Host[]): void {
    const kept = new Set(hosts);
    for (const [host, pool] of this.pools) {
      if (kept.has(host)) continue;
      pool.drain();
      this.pools.delete(host);
      this.circuitBreaker.poolRemoved();
    }
    for (const [key, pool] of this.keyedPools) {
      if (kept.has(pool.host)) continue;
      pool.drain();
      this.keyedPools.delete(key);
      this.circuitBreaker.poolRemoved();
    }
    this.currentHosts = hosts;
    this.onHostHealthChanged();
  }
}

/**
 * auto_sni's server name for a request: its Host without the port (Envoy's parseAuthority); none
 * for an IP literal (a TLS server name is a DNS name, RFC 6066) or an absent Host.
 */
function serverNameOf(request: RequestHead, overrideHeader: string): string | undefined {
  // As Envoy's router: the override header's value(s) when present and not empty, else Host.
  const overridden = overrideHeader === '' ? undefined : request.headers.get(overrideHeader);
  const authority = overridden !== undefined && overridden !== '' ? overridden : request.headers.get('host');
  if (authority === undefined || authority === '') return undefined;
  const name = authority.startsWith('[')
    ? authority.slice(1, authority.indexOf(']'))
    : authority.replace(/:\d*$/, '');
  return name === '' || isIP(name) !== 0 ? undefined : name;
}
