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
import type { ConnPool } from './pool';
import type { UpstreamConnector } from './transport';
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
  readonly connector: UpstreamConnector;
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
   * The connection pool of `host` (a host of this cluster) in this worker; null when a new pool
   * would exceed max_connection_pools (Envoy then answers as if no host were healthy).
   */
  pool(host: Host): ConnPool | null {
    let pool = this.pools.get(host);
    if (pool === undefined) {
      if (!this.circuitBreaker.tryCreatePool()) return null;
      const common = {
        connectTimeoutMs: this.config.connectTimeoutMs,
        idleTimeoutMs: this.config.idleTimeoutMs,
        maxRequestsPerConnection: this.config.maxRequestsPerConnection,
        circuitBreaker: this.circuitBreaker,
        nowMs: this.nowMs,
        stats: this.deps.stats,
      };
      const http2 = this.config.http2;
      pool = http2
        ? new Http2ConnPool(host, this.table, { ...common, http2 })
        : new Http1ConnPool(host, this.table, { ...common, connector: this.deps.connector });
      this.pools.set(host, pool);
    }
    return pool;
  }

  /** A health flag of one of the hosts changed: rebuild the LB so it sees the new flags. */
  onHostHealthChanged(): void {
    this.healthGeneration = this.table.healthGeneration(this.slots);
    for (const h of this.currentHosts) h.healthy = this.table.isHostUsable(h.slot);
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
    for (const pool of this.pools.values()) pool.drain();
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
    for (const pool of this.pools.values()) {
      release(pool);
      this.circuitBreaker.poolRemoved();
    }
    this.pools.clear();
  }

  private setHosts(hosts: Host[]): void {
    const kept = new Set(hosts);
    for (const [host, pool] of this.pools) {
      if (kept.has(host)) continue;
      pool.drain();
      this.pools.delete(host);
      this.circuitBreaker.poolRemoved();
    }
    this.currentHosts = hosts;
    this.onHostHealthChanged();
  }
}
