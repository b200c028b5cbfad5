/**
 * The shared host table: one row of Int32 counters per upstream host, in a SharedArrayBuffer that
 * every worker thread maps, so a LEAST_REQUEST pick in one worker sees the requests sent by all of
 * them. The layout is fixed when the primary allocates the table from the bootstrap; workers receive
 * it as plain data (`toShared()`; a SharedArrayBuffer is structured-cloned by reference) and wrap it
 * with `HostTable.fromShared`.
 *
 * Rows ("slots") are grouped by cluster, in config order:
 * - STATIC: one slot per endpoint, in endpoint order (slot = firstSlot + endpoint index).
 * - STRICT_DNS: DNS_SLOTS_PER_ENDPOINT slots per endpoint (each name may resolve to several addresses).
 * - LOGICAL_DNS: LOGICAL_DNS_SLOTS slots (one live address, plus room for the address to change).
 * DNS clusters claim slots by address (`claimSlot`): each worker resolves names on its own, and the
 * claim (hash of `address:port`, linear probing, compare-and-swap on the ADDRESS_KEY column) makes
 * every worker agree on the slot of an address without messaging. Slots are never released: an
 * address that left DNS keeps its (idle) row. When a cluster's range is full, a new address shares
 * the row its hash points at; counters then mix two hosts (LB quality degrades, routing stays right).
 *
 * Columns are Int32 updated with Atomics. Counters that only grow (TOTAL_REQUESTS, CONNECT_FAILURES)
 * wrap at 2^32; read them with `>>> 0`. To add a column (EWMA, circuit-breaker counters), append it
 * to HostColumn and bump COLUMN_COUNT: the stride follows.
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
} as const;
export type HostColumn = (typeof HostColumn)[keyof typeof HostColumn];
const COLUMN_COUNT = 5;

/** Slots reserved per STRICT_DNS endpoint: the most addresses one name is expected to resolve to. */
export const DNS_SLOTS_PER_ENDPOINT = 16;
/** Slots reserved for a LOGICAL_DNS cluster: its one address plus room for it to change over time. */
export const LOGICAL_DNS_SLOTS = 8;

/** The slot range of one cluster. */
export interface ClusterSlots {
  name: string;
  firstSlot: number;
  capacity: number;
}

/** What crosses from the primary to each worker (plain, structured-cloneable data). */
export interface SharedHostTable {
  buffer: SharedArrayBuffer;
  clusters: ClusterSlots[];
}

export class HostTable {
  private readonly cells: Int32Array;
  private readonly byName: Map<string, ClusterSlots>;

  private constructor(private readonly shared: SharedHostTable) {
    this.cells = new Int32Array(shared.buffer);
    this.byName = new Map(shared.clusters.map((c) => [c.name, c]));
  }

  /** On the primary: reserves slots for every cluster of the bootstrap. */
  static allocate(clusters: readonly ClusterConfig[]): HostTable {
    const ranges: ClusterSlots[] = [];
    let next = 0;
    for (const c of clusters) {
      const capacity = slotCapacity(c);
      ranges.push({ name: c.name, firstSlot: next, capacity });
      next += capacity;
    }
    const buffer = new SharedArrayBuffer(Math.max(1, next) * COLUMN_COUNT * Int32Array.BYTES_PER_ELEMENT);
    return new HostTable({ buffer, clusters: ranges });
  }

  /** In a worker: wraps the table the primary allocated. */
  static fromShared(shared: SharedHostTable): HostTable {
    return new HostTable(shared);
  }

  toShared(): SharedHostTable {
    return this.shared;
  }

  slotsOf(clusterName: string): ClusterSlots | undefined {
    return this.byName.get(clusterName);
  }

  get slotCount(): number {
    return this.cells.length / COLUMN_COUNT;
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
      const cell = slot * COLUMN_COUNT + HostColumn.AddressKey;
      const owner = Atomics.compareExchange(this.cells, cell, 0, tag | 0);
      if (owner === 0 || owner === (tag | 0)) return slot;
    }
    return range.firstSlot + start;
  }

  get(slot: number, column: HostColumn): number {
    return Atomics.load(this.cells, slot * COLUMN_COUNT + column);
  }

  add(slot: number, column: HostColumn, delta: number): void {
    Atomics.add(this.cells, slot * COLUMN_COUNT + column, delta);
  }

  /**
   * Active requests of a host across all workers, for LB decisions. A plain read, not Atomics.load
   * (twice as fast on the pick path): an aligned Int32 read of a SharedArrayBuffer never tears in
   * the ECMAScript memory model, it may only be a moment stale, which a load estimate tolerates.
   */
  activeRequests(slot: number): number {
    return this.cells[slot * COLUMN_COUNT + HostColumn.ActiveRequests]!;
  }

  /** A request was attached to a connection of this host. */
  requestStarted(slot: number): void {
    const row = slot * COLUMN_COUNT;
    Atomics.add(this.cells, row + HostColumn.ActiveRequests, 1);
    Atomics.add(this.cells, row + HostColumn.TotalRequests, 1);
  }

  /** A request attached earlier completed or was reset. */
  requestFinished(slot: number): void {
    Atomics.sub(this.cells, slot * COLUMN_COUNT + HostColumn.ActiveRequests, 1);
  }
}

function slotCapacity(c: ClusterConfig): number {
  switch (c.type) {
    case 'STATIC':
      return c.endpoints.length;
    case 'STRICT_DNS':
      return c.endpoints.length * DNS_SLOTS_PER_ENDPOINT;
    case 'LOGICAL_DNS':
      return LOGICAL_DNS_SLOTS;
  }
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
