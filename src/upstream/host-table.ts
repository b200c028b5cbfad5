/**
 * The shared host table: one row of Int32 counters per upstream host, in a SharedArrayBuffer that
 * every worker thread maps, so a LEAST_REQUEST pick in one worker sees the requests sent by all of
 * them. The primary lays the table out from the bootstrap (and again on a reload); workers receive
 * it as plain data (`toShared()`; a SharedArrayBuffer is structured-cloned by reference) and wrap it
 * with `HostTable.fromShared`.
 *
 * Rows ("slots") are grouped by cluster, in config order:
 * - STATIC: one slot per endpoint, in endpoint order (slot = firstSlot + endpoint index).
 * - STRICT_DNS: DNS_SLOTS_PER_ENDPOINT slots per endpoint (each name may resolve to several addresses).
 * - LOGICAL_DNS: LOGICAL_DNS_SLOTS slots (one live address, plus room for the address to change).
 * The table grows by chunks of 16 slots, each its own SharedArrayBuffer (a reload adds ranges after
 * every slot handed out so far, see `relayout`); a lookup is one more array index than a single
 * buffer. DNS clusters claim slots by address (`claimSlot`): each worker resolves names on its own, and the
 * claim (hash of `address:port`, linear probing, compare-and-swap on the ADDRESS_KEY column) makes
 * every worker agree on the slot of an address without messaging. Slots are never released: an
 * address that left DNS keeps its (idle) row. When a cluster's range is full, a new address shares
 * the row its hash points at; counters then mix two hosts (LB quality degrades, routing stays right).
 *
 * Columns are Int32 updated with Atomics. Counters that only grow (TOTAL_REQUESTS, CONNECT_FAILURES)
 * wrap at 2^32; read them with `>>> 0`. To add a column (circuit-breaker counters, …), append it
 * to HostColumn and bump COLUMN_COUNT: the stride follows.
 *
 * Peak EWMA latency (PEAK_EWMA): the estimate in integer µs and the time it was last updated, two
 * Int32 cells per host updated by compare-and-swap on the estimate (then a store of the stamp), so
 * every worker folds its samples into one estimate that every worker reads. perf/ewma.ts measured
 * the alternatives (2 threads, one host): CAS on Int32 fixed point costs 43 ns per update and 12 ns
 * per read, 0.02 % of updates retried under contention; one BigInt64 CAS 103 / 56 ns (BigInt
 * conversions allocate); a seqlock 47 / 24 ns but writers spun on the lock 5 times per update under
 * contention; single-writer rows per worker 15 ns per update but 105 ns per read (it merges every
 * worker's row, and a P2C pick reads two hosts per request). The price of the CAS layout: a reader
 * may for an instant pair a new estimate with the previous stamp and decay it slightly too much.
 */
import type { ClusterConfig } from '../config/bootstrap';

export const HostColumn = {
  /** Requests attached to an upstream connection and not yet complete (the pool keeps this). */
  ActiveRequests: 0,
  /** Open or connecting upstream connections (Envoy's upstream_cx_active per host). */
  ActiveConnections: 1,
  /** Requests ever attached to a connection (Envoy's rq_total per host). */
  TotalRequests: 2,
  /** Connection attempts that failed or timed out (Envoy's cx_connect_fail per host). */
  ConnectFailures: 3,
  /** DNS clusters: nonzero hash of the `address:port` that owns the slot; 0 = free. */
  AddressKey: 4,
  /** Peak EWMA decay time τ in ms, set by the PEAK_EWMA balancer; 0 = RTT not tracked for this host. */
  RttDecayMs: 5,
  /** Peak EWMA of the response-headers RTT, integer µs (>= 1); 0 = no sample yet. */
  RttEwmaUs: 6,
  /** When RttEwmaUs was last updated: monotonic ms, truncated to Int32 (wraps every 49 days). */
  RttStampMs: 7,
  /** Outlier detection: consecutive 5xx responses (and, unsplit, local-origin failures) from every worker. */
  Consecutive5xx: 8,
  /** Outlier detection: consecutive 502/503/504 (and, unsplit, local-origin failures). */
  ConsecutiveGatewayFailure: 9,
  /** Outlier detection with split_external_local_origin_errors: consecutive connect failures/resets. */
  ConsecutiveLocalOriginFailure: 10,
  /** Outlier detection: 1 while the primary's detector has the host ejected (failed_outlier_check). */
  OutlierEjected: 11,
  /** Active health checking: 1 while the primary's checker has the host failed (failed_active_hc). */
  ActiveHcFailed: 12,
  /**
   * Per cluster, in the cluster's first slot only: bumped by the primary after every change of a
   * health column of any of its hosts, so a worker notices a change with one read per pick.
   */
  HealthGeneration: 13,
  /**
   * Outlier detection's success-rate and failure-percentage detectors: responses (and, unsplit,
   * local-origin failures) since the primary's last sweep, which reads and zeroes them.
   */
  OutlierRequests: 14,
  /** The 5xx among OutlierRequests (Envoy's external-origin failures). */
  OutlierFailures: 15,
  /** With split_external_local_origin_errors: connection outcomes since the last sweep. */
  LocalOriginRequests: 16,
  /** The failed ones among LocalOriginRequests (connect failure, reset, timeout). */
  LocalOriginFailures: 17,
} as const;
export type HostColumn = (typeof HostColumn)[keyof typeof HostColumn];
const COLUMN_COUNT = 18;

/** A CAS lost this many times in a row (a storm of samples for one host): drop the sample. */
const MAX_RTT_CAS_ATTEMPTS = 8;

/** Slots reserved per STRICT_DNS endpoint: the most addresses one name is expected to resolve to. */
export const DNS_SLOTS_PER_ENDPOINT = 16;
/** Slots reserved for a LOGICAL_DNS cluster: its one address plus room for it to change over time. */
export const LOGICAL_DNS_SLOTS = 8;

/** Host slots per chunk: the table grows a chunk at a time. */
const CHUNK_SHIFT = 4;
const CHUNK_SLOTS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_SLOTS - 1;
const CHUNK_CELLS = CHUNK_SLOTS * COLUMN_COUNT;

/** The first cell of `slot`'s row in its chunk. */
function rowOf(slot: number): number {
  return (slot & CHUNK_MASK) * COLUMN_COUNT;
}

/** The slot range of one cluster. */
export interface ClusterSlots {
  name: string;
  firstSlot: number;
  capacity: number;
}

/**
 * What crosses from the primary to each worker (plain, structured-cloneable data): chunk k holds
 * slots [16k, 16k + 16); null marks a retired chunk (see `relayout`).
 */
export interface SharedHostTable {
  chunks: (SharedArrayBuffer | null)[];
  clusters: ClusterSlots[];
}

export class HostTable {
  private chunks: Int32Array[] = [];
  private byName = new Map<string, ClusterSlots>();
  private shared: SharedHostTable = { chunks: [], clusters: [] };
  /** What every retired chunk maps to in this thread (one for all: nothing live reads it). */
  private scratch: Int32Array | null = null;

  private constructor(shared: SharedHostTable) {
    this.update(shared);
  }

  /** On the primary: reserves slots for every cluster of the bootstrap. */
  static allocate(clusters: readonly ClusterConfig[]): HostTable {
    const table = new HostTable({ chunks: [], clusters: [] });
    table.update(table.relayout(clusters));
    return table;
  }

  /** In a worker: wraps the table the primary allocated. */
  static fromShared(shared: SharedHostTable): HostTable {
    return new HostTable(shared);
  }

  toShared(): SharedHostTable {
    return this.shared;
  }

  /**
   * Takes a layout from `relayout` (the primary's, or one it sent). A retired chunk becomes this
   * thread's scratch memory: a request still finishing on a removed cluster's host writes there,
   * never into a slot the table gave to another host.
   */
  update(shared: SharedHostTable): void {
    const previous = this.chunks;
    this.shared = shared;
    this.chunks = shared.chunks.map((sab, k) => {
      if (sab === null) return (this.scratch ??= new Int32Array(CHUNK_CELLS));
      return previous[k]?.buffer === sab ? previous[k]! : new Int32Array(sab);
    });
    this.byName = new Map(shared.clusters.map((c) => [c.name, c]));
  }

  /**
   * The layout for a new set of clusters (a reload), not yet applied (`update`): a cluster whose
   * rows still mean the same hosts (`sameSlotLayout`) keeps its range, so its hosts keep their
   * health, ejection and load counters; others get a new range after every slot ever handed out
   * (slots are never reused), their health-checked hosts failed until checked, as at startup.
   * A chunk no kept or new range overlaps is retired.
   */
  relayout(clusters: readonly ClusterConfig[], previous: readonly ClusterConfig[] = []): SharedHostTable {
    const before = new Map(previous.map((c) => [c.name, c]));
    let next = this.shared.chunks.length * CHUNK_SLOTS;
    const ranges: ClusterSlots[] = [];
    const fresh: { range: ClusterSlots; config: ClusterConfig }[] = [];
    for (const c of clusters) {
      const old = this.byName.get(c.name);
      const was = before.get(c.name);
      if (old !== undefined && was !== undefined && sameSlotLayout(was, c)) {
        ranges.push(old);
        continue;
      }
      const range = { name: c.name, firstSlot: next, capacity: c.slotCapacity };
      next += range.capacity;
      ranges.push(range);
      fresh.push({ range, config: c });
    }
    const live = new Set<number>();
    for (const r of ranges)
      for (let k = r.firstSlot >> CHUNK_SHIFT; k <= (r.firstSlot + r.capacity - 1) >> CHUNK_SHIFT; k++)
        if (r.capacity > 0) live.add(k);
    const chunkCount = (next + CHUNK_MASK) >> CHUNK_SHIFT;
    const chunks: (SharedArrayBuffer | null)[] = [];
    for (let k = 0; k < chunkCount; k++) {
      const existing = this.shared.chunks[k];
      if (!live.has(k)) chunks.push(null);
      else if (existing) chunks.push(existing);
      else chunks.push(new SharedArrayBuffer(CHUNK_CELLS * Int32Array.BYTES_PER_ELEMENT));
    }
    const layout = { chunks, clusters: ranges };
    // As in Envoy, a host of a health-checked cluster is failed_active_hc until its first check
    // passes; DNS slots start so too, so an address any worker claims later is failed until checked.
    const view = HostTable.fromShared(layout);
    for (const { range, config } of fresh) {
      if (!config.healthChecks?.length) continue;
      for (let slot = range.firstSlot; slot < range.firstSlot + range.capacity; slot++)
        view.set(slot, HostColumn.ActiveHcFailed, 1);
    }
    return layout;
  }

  slotsOf(clusterName: string): ClusterSlots | undefined {
    return this.byName.get(clusterName);
  }

  /** Slots handed out so far (retired ones included: slots are never reused). */
  get slotCount(): number {
    let end = 0;
    for (const c of this.shared.clusters) end = Math.max(end, c.firstSlot + c.capacity);
    return end;
  }

  /** Live chunks: what the table's memory is proportional to. */
  get liveChunks(): number {
    return this.shared.chunks.filter((c) => c !== null).length;
  }

  /** The chunk holding `slot`'s row. */
  private chunk(slot: number): Int32Array {
    return this.chunks[slot >> CHUNK_SHIFT]!;
  }

  /**
   * The slot for `key` (an `address:port`) inside `range`: the one already claimed for it by any
   * worker, else a free one claimed now, else (range full) the one its hash points at.
   */
  claimSlot(range: ClusterSlots, key: string): number {
    const tag = addressTag(key);
    const start = tag % range.capacity;
    for (let i = 0; i < range.capacity; i++) {
      const slot = range.firstSlot + ((start + i) % range.capacity);
      const cell = rowOf(slot) + HostColumn.AddressKey;
      const owner = Atomics.compareExchange(this.chunk(slot), cell, 0, tag | 0);
      if (owner === 0 || owner === (tag | 0)) return slot;
    }
    return range.firstSlot + start;
  }

  get(slot: number, column: HostColumn): number {
    return Atomics.load(this.chunk(slot), rowOf(slot) + column);
  }

  /** Adds `delta` and returns the new value (so exactly one adder sees a threshold reached). */
  add(slot: number, column: HostColumn, delta: number): number {
    return Atomics.add(this.chunk(slot), rowOf(slot) + column, delta) + delta;
  }

  /** Reads a counter and zeroes it in one step (a per-interval counter's reader). */
  take(slot: number, column: HostColumn): number {
    return Atomics.exchange(this.chunk(slot), rowOf(slot) + column, 0);
  }

  set(slot: number, column: HostColumn, value: number): void {
    Atomics.store(this.chunk(slot), rowOf(slot) + column, value);
  }

  /**
   * Whether the LB may pick this host: the one predicate every health source extends (outlier
   * ejection here; active health checking adds its column). Workers refresh `Host.healthy` from it
   * whenever they rebuild a cluster's LB (`Cluster.onHostHealthChanged`).
   */
  isHostUsable(slot: number): boolean {
    const cells = this.chunk(slot);
    const row = rowOf(slot);
    return (
      Atomics.load(cells, row + HostColumn.OutlierEjected) === 0 &&
      Atomics.load(cells, row + HostColumn.ActiveHcFailed) === 0
    );
  }

  /**
   * The health generation of the cluster whose slots are `range`: changes whenever a health column
   * of one of its hosts changed (`healthChanged`). A plain read, like `activeRequests`: it is made
   * on every pick, and a moment's staleness only delays the switch to the next pick.
   */
  healthGeneration(range: ClusterSlots): number {
    return range.capacity === 0
      ? 0
      : this.chunk(range.firstSlot)[rowOf(range.firstSlot) + HostColumn.HealthGeneration]!;
  }

  /** Call after changing a health column of a host of `range`: workers rebuild their LBs. */
  healthChanged(range: ClusterSlots): void {
    if (range.capacity > 0)
      Atomics.add(this.chunk(range.firstSlot), rowOf(range.firstSlot) + HostColumn.HealthGeneration, 1);
  }

  /**
   * Active requests of a host across all workers, for LB decisions. A plain read, not Atomics.load
   * (twice as fast on the pick path): an aligned Int32 read of a SharedArrayBuffer never tears in
   * the ECMAScript memory model, it may only be a moment stale, which a load estimate tolerates.
   */
  activeRequests(slot: number): number {
    return this.chunk(slot)[rowOf(slot) + HostColumn.ActiveRequests]!;
  }

  /** A request was attached to a connection of this host. */
  requestStarted(slot: number): void {
    const cells = this.chunk(slot);
    const row = rowOf(slot);
    Atomics.add(cells, row + HostColumn.ActiveRequests, 1);
    Atomics.add(cells, row + HostColumn.TotalRequests, 1);
  }

  /** A request attached earlier completed or was reset. */
  requestFinished(slot: number): void {
    Atomics.sub(this.chunk(slot), rowOf(slot) + HostColumn.ActiveRequests, 1);
  }

  /**
   * Starts tracking the RTT of a host with decay time `decayMs` (called by the PEAK_EWMA balancer of
   * every worker when it is built; idempotent). Hosts never tracked cost `recordRtt` one read.
   */
  trackRtt(slot: number, decayMs: number): void {
    Atomics.store(this.chunk(slot), rowOf(slot) + HostColumn.RttDecayMs, Math.max(1, Math.round(decayMs)));
  }

  /** Whether a PEAK_EWMA balancer tracks this host's RTT (so timing requests to it is worth it). */
  tracksRtt(slot: number): boolean {
    return this.chunk(slot)[rowOf(slot) + HostColumn.RttDecayMs] !== 0;
  }

  /**
   * Folds one RTT sample (ms, fractional) taken at `nowMs` (monotonic ms) into the host's peak EWMA,
   * as tower and Finagle do: a sample above the estimate replaces it at once (the peak); otherwise
   * estimate := estimate·w + rtt·(1 − w) with w = exp(−Δt/τ), Δt the time since the last update.
   */
  recordRtt(slot: number, rttMs: number, nowMs: number): void {
    const row = rowOf(slot);
    const cells = this.chunk(slot);
    const decayMs = cells[row + HostColumn.RttDecayMs]!;
    if (decayMs === 0) return;
    const rttUs = rttMs > 0.001 ? Math.round(rttMs * 1000) : 1;
    const stamp = nowMs | 0;
    for (let attempt = 0; attempt < MAX_RTT_CAS_ATTEMPTS; attempt++) {
      const old = Atomics.load(cells, row + HostColumn.RttEwmaUs);
      let next = rttUs;
      if (old !== 0 && rttUs < old) {
        const elapsed = (stamp - Atomics.load(cells, row + HostColumn.RttStampMs)) | 0;
        const w = Math.exp(-Math.max(0, elapsed) / decayMs);
        next = Math.max(1, Math.round(old * w + rttUs * (1 - w)));
      }
      if (Atomics.compareExchange(cells, row + HostColumn.RttEwmaUs, old, next) === old) {
        Atomics.store(cells, row + HostColumn.RttStampMs, stamp);
        return;
      }
    }
  }

  /**
   * The host's RTT estimate in ms at `nowMs`, decayed toward 0 for the time since its last sample
   * (an idle host looks cheaper and cheaper until it is tried again), or -1 before the first sample.
   * Plain reads, like `activeRequests`: a torn pair is impossible, a stale one harmless.
   */
  rttEstimateMs(slot: number, nowMs: number): number {
    const row = rowOf(slot);
    const cells = this.chunk(slot);
    const estimateUs = cells[row + HostColumn.RttEwmaUs]!;
    if (estimateUs === 0) return -1;
    const elapsed = ((nowMs | 0) - cells[row + HostColumn.RttStampMs]!) | 0;
    const decayMs = cells[row + HostColumn.RttDecayMs]!;
    return elapsed <= 0 ? estimateUs / 1000 : (estimateUs * Math.exp(-elapsed / decayMs)) / 1000;
  }
}

/**
 * Whether `b`'s slot range means the same hosts as `a`'s: same type and capacity, and for a type
 * with a row per endpoint (STATIC) the same endpoints in order; DNS clusters claim rows by
 * address, so the same capacity suffices. Health checks added to a cluster that had none start it afresh.
 */
function sameSlotLayout(a: ClusterConfig, b: ClusterConfig): boolean {
  if (a.type !== b.type || a.slotCapacity !== b.slotCapacity) return false;
  if (!a.healthChecks?.length && (b.healthChecks?.length ?? 0) > 0) return false;
  if (!a.slotPerEndpoint) return true;
  return a.endpoints.every((e, i) => {
    const f = b.endpoints[i]!;
    return e.address.address === f.address.address && e.address.port === f.address.port;
  });
}

/** FNV-1a of the key as an unsigned 32-bit number, never 0 (0 marks a free slot). */
function addressTag(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}
