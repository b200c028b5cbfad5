/**
 * One upstream cluster as a worker sees it (Envoy's `Cluster` + its thread-local host set): the
 * current hosts, the load balancer over them, and one connection pool per host, created on first
 * use. Host-set changes from discovery (DNS) and health changes swap in a new LB in one assignment,
 * so a pick always sees a consistent set; pools of removed hosts drain (requests in flight finish).
 */
import type { ClusterConfig } from '../config/bootstrap';
import { Http1ConnPool, type ClientConnectionFactory } from './conn-pool';
import type { HostDiscovery } from './discovery/api';
import type { Host } from './host';
import type { HostTable } from './host-table';
import type { LbContext, LbEnv, LbPolicyFactory, LoadBalancer } from './lb/api';
import { NO_HOST_LB } from './lb/host-set';

/** Envoy's default circuit-breaker thresholds, applied per pool until circuit breakers exist. */
const DEFAULT_MAX_PENDING_REQUESTS = 1024;
const DEFAULT_MAX_CONNECTIONS = 1024;

export interface ClusterDeps {
  readonly lbFactory: LbPolicyFactory;
  readonly lbEnv: LbEnv;
  readonly discovery: HostDiscovery;
  readonly connectionFactory: ClientConnectionFactory;
}

export class Cluster {
  readonly name: string;
  /** Resolves once the first host set is known (immediately for STATIC, after the first lookup for DNS). */
  readonly initialized: Promise<void>;
  private currentHosts: readonly Host[] = [];
  private lb: LoadBalancer = NO_HOST_LB;
  private readonly pools = new Map<Host, Http1ConnPool>();
  private readonly table: HostTable;
  private readonly nowMs = (): number => this.deps.lbEnv.nowMs();

  constructor(
    readonly config: ClusterConfig,
    private readonly deps: ClusterDeps,
  ) {
    this.name = config.name;
    this.table = deps.lbEnv.hostTable;
    this.initialized = new Promise((resolve) =>
      deps.discovery.start((hosts) => this.setHosts(hosts), resolve),
    );
  }

  get hosts(): readonly Host[] {
    return this.currentHosts;
  }

  /** Picks the host for one request, or null when the cluster has no usable host (503, flag UH). */
  chooseHost(ctx: LbContext): Host | null {
    return this.lb.chooseHost(ctx);
  }

  /** The connection pool of `host` (a host of this cluster) in this worker. */
  pool(host: Host): Http1ConnPool {
    let pool = this.pools.get(host);
    if (pool === undefined) {
      pool = new Http1ConnPool(host, this.table, {
        connectTimeoutMs: this.config.connectTimeoutMs,
        idleTimeoutMs: this.config.idleTimeoutMs,
        maxRequestsPerConnection: this.config.maxRequestsPerConnection,
        maxPendingRequests: DEFAULT_MAX_PENDING_REQUESTS,
        maxConnections: DEFAULT_MAX_CONNECTIONS,
        connectionFactory: this.deps.connectionFactory,
        nowMs: this.nowMs,
      });
      this.pools.set(host, pool);
    }
    return pool;
  }

  /** A health flag of one of the hosts changed: rebuild the LB so it sees the new flags. */
  onHostHealthChanged(): void {
    this.lb = this.deps.lbFactory.create(this.currentHosts, this.config.lbConfig, this.deps.lbEnv);
  }

  /** Closes idle connections of every pool, and busy ones as their requests complete. */
  drain(): void {
    for (const pool of this.pools.values()) pool.drain();
  }

  /** Stops discovery and closes every connection now. */
  close(): void {
    this.deps.discovery.stop();
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private setHosts(hosts: Host[]): void {
    const kept = new Set(hosts);
    for (const [host, pool] of this.pools) {
      if (kept.has(host)) continue;
      pool.drain();
      this.pools.delete(host);
    }
    this.currentHosts = hosts;
    this.onHostHealthChanged();
  }
}
