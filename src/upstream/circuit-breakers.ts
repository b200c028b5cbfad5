/**
 * Envoy's circuit breakers (its per-cluster, per-priority ResourceManager), global across worker
 * threads as Envoy's are: `max_connections`, `max_pending_requests`, `max_requests`, `max_retries`
 * (or a `retry_budget`) and `max_connection_pools` bound what the whole process has open, not what
 * one worker has.
 *
 * Layout: one SharedArrayBuffer per cluster, allocated by the primary from the bootstrap and on a
 * reload (`CircuitBreakerTable`). Each priority has a row of Int32 counters, one per `Resource`,
 * padded to a cache line. Block 0 holds the process-wide counts; block 1 + w
 * holds worker w's own share of them, written only by that worker. The shares exist for one
 * reason: a worker that crashes cannot give back what it held, so the primary subtracts the dead
 * worker's share (`reclaimWorker`) before starting its replacement; without that a crash would leave
 * a breaker partly open for the rest of the process's life.
 *
 * Limits are checked and taken in one step (`Atomics.compareExchange` until it sticks), so two
 * workers racing for the last slot never both get it: the process never exceeds a limit, except
 * for the one connection Envoy lets a pool open when it has none (see `tryOpenConnection`).
 * Counts only; the `_open` / `remaining_*` gauges are published by the primary from the same
 * counters (circuit-breaker-gauges.ts), so the hot path writes no stats besides overflow counters.
 */
import type { CircuitBreakerThresholds, ClusterConfig } from '../config/bootstrap';
import { defaultThresholds } from '../config/circuit-breakers';

/** What a circuit breaker limits, as column numbers in a row (the order of the stat lists in names.ts). */
export const Resource = {
  Connections: 0,
  ConnectionPools: 1,
  PendingRequests: 2,
  Requests: 3,
  Retries: 4,
} as const;
export type Resource = (typeof Resource)[keyof typeof Resource];
export const RESOURCE_COUNT = 5;
/** DEFAULT and HIGH, the index into `ClusterConfig.circuitBreakers`. */
export const PRIORITY_COUNT = 2;
/** Int32 cells per row: one 64-byte cache line. */
const ROW_STRIDE = 16;

/** The thresholds of `config` for `priority` (Envoy's defaults when the config has none). */
export function thresholdsOf(config: ClusterConfig, priority: number): CircuitBreakerThresholds {
  return config.circuitBreakers?.[priority] ?? defaultThresholds();
}

/** What crosses from the primary to each worker (plain, structured-cloneable data). */
export interface SharedCircuitBreakers {
  /** One buffer per cluster, by name: a global block, then one share block per worker. */
  buffers: [string, SharedArrayBuffer][];
  /** Worker blocks after the global one. */
  workers: number;
}

/** An overflow counter (`cluster.<c>.upstream_*_overflow`); a stats Counter in production. */
export interface OverflowCounter {
  inc(): void;
}
export type CounterBinder = (name: string) => OverflowCounter;

const NO_COUNTER: OverflowCounter = { inc: () => {} };
const NO_COUNTERS: CounterBinder = () => NO_COUNTER;

/** Int32 cells of one block (every priority's row) of a cluster's buffer. */
const BLOCK_CELLS = PRIORITY_COUNT * ROW_STRIDE;

export class CircuitBreakerTable {
  private cells = new Map<string, Int32Array>();
  private shared: SharedCircuitBreakers;

  private constructor(shared: SharedCircuitBreakers) {
    this.shared = shared;
    this.update(shared);
  }

  /** On the primary: a buffer per cluster, with a share block for each of `workers`. */
  static allocate(clusters: readonly ClusterConfig[], workers: number): CircuitBreakerTable {
    const table = new CircuitBreakerTable({ buffers: [], workers });
    table.update(table.relayout(clusters));
    return table;
  }

  /** In a worker: wraps the table the primary allocated. */
  static fromShared(shared: SharedCircuitBreakers): CircuitBreakerTable {
    return new CircuitBreakerTable(shared);
  }

  toShared(): SharedCircuitBreakers {
    return this.shared;
  }

  /**
   * The tables for a new set of clusters (a reload), not yet applied (`update`): a cluster that
   * stays keeps its buffer, so what its old pools still hold is counted against its new limits and
   * given back to the same counts; a new cluster gets a zeroed buffer; a removed one's buffer is
   * dropped (its old pools, still draining, keep it alive until they are gone).
   */
  relayout(clusters: readonly ClusterConfig[]): SharedCircuitBreakers {
    const kept = new Map(this.shared.buffers);
    const bytes = BLOCK_CELLS * (1 + this.shared.workers) * Int32Array.BYTES_PER_ELEMENT;
    return {
      buffers: clusters.map((c) => [c.name, kept.get(c.name) ?? new SharedArrayBuffer(bytes)]),
      workers: this.shared.workers,
    };
  }

  update(shared: SharedCircuitBreakers): void {
    const previous = this.cells;
    this.shared = shared;
    this.cells = new Map(
      shared.buffers.map(([name, sab]) => {
        const view = previous.get(name);
        return [name, view?.buffer === sab ? view : new Int32Array(sab)];
      }),
    );
  }

  /**
   * Worker `workerIndex`'s view of one cluster priority, its overflow counters bound through
   * `counters` (by their full names, `cluster.<c>.upstream_cx_overflow` …).
   */
  breaker(
    config: ClusterConfig,
    priority: number,
    workerIndex: number,
    counters: CounterBinder = NO_COUNTERS,
  ): CircuitBreaker {
    if (workerIndex < 0 || workerIndex >= this.shared.workers) {
      throw new Error(
        `worker ${workerIndex} has no circuit-breaker block (table made for ${this.shared.workers})`,
      );
    }
    const cells = this.cellsOf(config.name);
    const offset = priority * ROW_STRIDE;
    const global = cells.subarray(offset, offset + RESOURCE_COUNT);
    const ownStart = offset + (1 + workerIndex) * BLOCK_CELLS;
    const own = cells.subarray(ownStart, ownStart + RESOURCE_COUNT);
    return new CircuitBreaker(global, own, thresholdsOf(config, priority), config.name, counters);
  }

  /** Counts and limits of one cluster priority, for readers (the primary's gauges). */
  state(config: ClusterConfig, priority: number): CircuitBreakerState {
    const offset = priority * ROW_STRIDE;
    return new CircuitBreakerState(
      this.cellsOf(config.name).subarray(offset, offset + RESOURCE_COUNT),
      thresholdsOf(config, priority),
    );
  }

  /**
   * On the primary, after worker `workerIndex` exited and before it is replaced: gives back
   * everything it still held (requests in flight, open connections, waiting requests, retries).
   */
  reclaimWorker(workerIndex: number): void {
    const base = (1 + workerIndex) * BLOCK_CELLS;
    for (const cells of this.cells.values()) {
      for (let row = 0; row < BLOCK_CELLS; row += ROW_STRIDE) {
        for (let r = 0; r < RESOURCE_COUNT; r++) {
          const held = cells[base + row + r]!;
          if (held === 0) continue;
          Atomics.sub(cells, row + r, held);
          cells[base + row + r] = 0;
        }
      }
    }
  }

  private cellsOf(cluster: string): Int32Array {
    const cells = this.cells.get(cluster);
    if (cells === undefined) throw new Error(`cluster '${cluster}' has no circuit-breaker row`);
    return cells;
  }
}

/**
 * The process-wide counts and current limits of one cluster priority: what the gauges read, and
 * the base of a worker's `CircuitBreaker`.
 */
export class CircuitBreakerState {
  private readonly limits: number[];
  private readonly budget: { fraction: number; min: number } | null;

  constructor(
    protected readonly global: Int32Array,
    readonly thresholds: CircuitBreakerThresholds,
  ) {
    const t = thresholds;
    this.limits = [t.maxConnections, t.maxConnectionPools, t.maxPendingRequests, t.maxRequests, t.maxRetries];
    this.budget =
      t.retryBudget === null
        ? null
        : { fraction: t.retryBudget.budgetPercent / 100, min: t.retryBudget.minRetryConcurrency };
  }

  get hasRetryBudget(): boolean {
    return this.budget !== null;
  }

  /** The process-wide count of `resource`. */
  count(resource: Resource): number {
    return Atomics.load(this.global, resource);
  }

  /**
   * The current limit of `resource`. With a retry budget the retry limit moves with the load:
   * budget_percent of the requests active and waiting, never below min_retry_concurrency.
   */
  limit(resource: Resource): number {
    const b = this.budget;
    if (resource !== Resource.Retries || b === null) return this.limits[resource]!;
    const active = this.count(Resource.Requests) + this.count(Resource.PendingRequests);
    return Math.max(Math.floor(b.fraction * active), b.min);
  }
}

/**
 * One cluster priority's limits as one worker uses them (Envoy's ResourceManager). Each `try*`
 * either takes one unit of its resource or counts the overflow stat Envoy counts and returns false;
 * every unit taken must be given back exactly once with the matching `end*` / `*Closed` call.
 */
export class CircuitBreaker extends CircuitBreakerState {
  private readonly cxOverflow: OverflowCounter;
  private readonly cxPoolOverflow: OverflowCounter;
  private readonly rqPendingOverflow: OverflowCounter;
  private readonly rqRetryOverflow: OverflowCounter;

  constructor(
    global: Int32Array,
    private readonly own: Int32Array,
    thresholds: CircuitBreakerThresholds,
    cluster: string,
    counters: CounterBinder,
  ) {
    super(global, thresholds);
    const p = `cluster.${cluster}.`;
    this.cxOverflow = counters(p + 'upstream_cx_overflow');
    this.cxPoolOverflow = counters(p + 'upstream_cx_pool_overflow');
    this.rqPendingOverflow = counters(p + 'upstream_rq_pending_overflow');
    this.rqRetryOverflow = counters(p + 'upstream_rq_retry_overflow');
  }

  /** A request starts waiting for a connection (max_pending_requests). */
  tryStartPending(): boolean {
    return this.tryAcquire(Resource.PendingRequests, this.rqPendingOverflow);
  }

  endPending(): void {
    this.release(Resource.PendingRequests);
  }

  /**
   * A request is about to be attached to a connection (max_requests). Envoy counts a refusal here
   * as `upstream_rq_pending_overflow` too.
   */
  tryStartRequest(): boolean {
    return this.tryAcquire(Resource.Requests, this.rqPendingOverflow);
  }

  endRequest(): void {
    this.release(Resource.Requests);
  }

  /**
   * A pool wants one more connection (max_connections). Over the limit it counts
   * `upstream_cx_overflow` and refuses, unless the pool has no connection at all: then, as Envoy
   * does, it opens one anyway, so requests waiting in that pool are never stranded behind other
   * pools' (or other workers') connections.
   */
  tryOpenConnection(poolIsEmpty: boolean): boolean {
    if (this.tryAcquire(Resource.Connections, this.cxOverflow)) return true;
    if (!poolIsEmpty) return false;
    this.take(Resource.Connections);
    return true;
  }

  connectionClosed(): void {
    this.release(Resource.Connections);
  }

  /** A worker creates a connection pool for a host (max_connection_pools). */
  tryCreatePool(): boolean {
    return this.tryAcquire(Resource.ConnectionPools, this.cxPoolOverflow);
  }

  poolRemoved(): void {
    this.release(Resource.ConnectionPools);
  }

  /** A retry is about to be scheduled (max_retries, or the retry budget when configured). */
  tryStartRetry(): boolean {
    return this.tryAcquire(Resource.Retries, this.rqRetryOverflow);
  }

  endRetry(): void {
    this.release(Resource.Retries);
  }

  /** Takes one unit if the count is below the limit, atomically with the check. */
  private tryAcquire(resource: Resource, overflow: OverflowCounter): boolean {
    const max = this.limit(resource);
    let seen = Atomics.load(this.global, resource);
    while (seen < max) {
      const was = Atomics.compareExchange(this.global, resource, seen, seen + 1);
      if (was === seen) {
        this.own[resource]!++;
        return true;
      }
      seen = was;
    }
    overflow.inc();
    return false;
  }

  private take(resource: Resource): void {
    Atomics.add(this.global, resource, 1);
    this.own[resource]!++;
  }

  private release(resource: Resource): void {
    Atomics.sub(this.global, resource, 1);
    this.own[resource]!--;
  }
}

/** A breaker over a table of its own (one worker): for a cluster built without the primary's table. */
export function localCircuitBreaker(config: ClusterConfig, counters?: CounterBinder): CircuitBreaker {
  return CircuitBreakerTable.allocate([config], 1).breaker(config, 0, 0, counters);
}
