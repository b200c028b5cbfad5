/**
 * Envoy's `connection_balance_config: { exact_balance: {} }`: the primary thread accepts every
 * connection of the listener and hands it to the worker with the fewest active connections of
 * that listener, so a few long-lived connections cannot pile up on one worker (SO_REUSEPORT
 * spreads by a hash of the addresses, blind to how long each connection lives).
 *
 * What crosses threads is a file descriptor (a dup of the accepted socket; see
 * native/socket-handoff.ts), through a shared-memory table:
 * - counts: active connections per (exact listener, worker). The primary adds one when it hands a
 *   connection over, the worker subtracts one when that connection closes, so a connection in
 *   flight already counts for the worker it went to: consecutive picks never race on stale counts.
 * - a mailbox of slots per worker: [state, fd, listener]. The primary fills a FREE slot and marks it
 *   POSTED, then posts a message naming the slot; the worker claims it POSTED → FREE with a
 *   compare-and-swap before it touches the fd. If the worker dies first, the primary claims the
 *   slots still POSTED the same way and closes their fds: exactly one side ever owns each fd, so
 *   none leaks and none is closed twice.
 */
import type { ListenerConfig } from '../config/bootstrap';

/** Connections one worker may have waiting in its mailbox; beyond that the worker is stuck. */
const MAILBOX_SLOTS = 1024;
const SLOT_INTS = 3;
const enum SlotState {
  Free = 0,
  Posted = 1,
}

/** What crosses from the primary to each worker (plain, structured-cloneable data). */
export interface SharedExactBalance {
  buffer: SharedArrayBuffer;
  /** Names of the exact-balance listeners, in table order. */
  listeners: string[];
  workers: number;
}

/** A connection taken from a worker's mailbox. */
export interface HandedConnection {
  fd: number;
  listener: string;
}

export class ExactBalance {
  private readonly cells: Int32Array;
  private readonly mailboxBase: number;
  /** Primary only: where each worker's next free-slot search starts. */
  private readonly cursors: number[];

  private constructor(private readonly shared: SharedExactBalance) {
    this.cells = new Int32Array(shared.buffer);
    this.mailboxBase = shared.listeners.length * shared.workers;
    this.cursors = new Array<number>(shared.workers).fill(0);
  }

  /** On the primary: a table for the listeners that ask for exact balance (null if none does). */
  static allocate(listeners: readonly ListenerConfig[], workers: number): ExactBalance | null {
    const names = listeners.filter((l) => l.connectionBalance === 'exact').map((l) => l.name);
    if (names.length === 0) return null;
    const ints = names.length * workers + workers * MAILBOX_SLOTS * SLOT_INTS;
    return new ExactBalance({
      buffer: new SharedArrayBuffer(ints * Int32Array.BYTES_PER_ELEMENT),
      listeners: names,
      workers,
    });
  }

  static fromShared(shared: SharedExactBalance): ExactBalance {
    return new ExactBalance(shared);
  }

  toShared(): SharedExactBalance {
    return this.shared;
  }

  balances(listener: string): boolean {
    return this.shared.listeners.includes(listener);
  }

  /** Active connections of `listener` on `worker` (handed over and not closed yet). */
  active(listener: string, worker: number): number {
    return Atomics.load(this.cells, this.countIndex(listener, worker));
  }

  /**
   * Primary: the worker with the fewest active connections of `listener` among those `usable`
   * (lowest index on ties), or -1 if none is.
   */
  leastLoaded(listener: string, usable: (worker: number) => boolean): number {
    let best = -1;
    let bestCount = Infinity;
    for (let w = 0; w < this.shared.workers; w++) {
      if (!usable(w)) continue;
      const count = this.active(listener, w);
      if (count < bestCount) {
        best = w;
        bestCount = count;
      }
    }
    return best;
  }

  /**
   * Primary: puts `fd` in `worker`'s mailbox and counts the connection for it. Returns the slot to
   * name in the message to the worker, or -1 when the mailbox is full (the caller closes the fd).
   */
  post(worker: number, listener: string, fd: number): number {
    const first = this.cursors[worker]!;
    for (let i = 0; i < MAILBOX_SLOTS; i++) {
      const slot = (first + i) % MAILBOX_SLOTS;
      const base = this.slotIndex(worker, slot);
      if (Atomics.load(this.cells, base) !== SlotState.Free) continue;
      this.cells[base + 1] = fd;
      this.cells[base + 2] = this.shared.listeners.indexOf(listener);
      Atomics.add(this.cells, this.countIndex(listener, worker), 1);
      // The store publishes fd and listener to the worker's compare-and-swap.
      Atomics.store(this.cells, base, SlotState.Posted);
      this.cursors[worker] = (slot + 1) % MAILBOX_SLOTS;
      return slot;
    }
    return -1;
  }

  /** Worker: claims the connection in `slot` of its mailbox; null if the primary reclaimed it. */
  take(worker: number, slot: number): HandedConnection | null {
    const base = this.slotIndex(worker, slot);
    if (Atomics.load(this.cells, base) !== SlotState.Posted) return null;
    const fd = this.cells[base + 1]!;
    const listener = this.shared.listeners[this.cells[base + 2]!]!;
    // Read before the slot is freed: the primary may fill it again right after.
    if (Atomics.compareExchange(this.cells, base, SlotState.Posted, SlotState.Free) !== SlotState.Posted)
      return null;
    return { fd, listener };
  }

  /** Worker: a handed-over connection of `listener` closed. */
  closed(listener: string, worker: number): void {
    Atomics.sub(this.cells, this.countIndex(listener, worker), 1);
  }

  /**
   * Primary, after `worker` exited: closes (with `close`) the fds it never took and zeroes its
   * counts (its connections died with it). Returns how many fds were reclaimed.
   */
  reclaimWorker(worker: number, close: (fd: number) => void): number {
    let reclaimed = 0;
    for (let slot = 0; slot < MAILBOX_SLOTS; slot++) {
      const base = this.slotIndex(worker, slot);
      if (Atomics.compareExchange(this.cells, base, SlotState.Posted, SlotState.Free) !== SlotState.Posted)
        continue;
      close(this.cells[base + 1]!);
      reclaimed++;
    }
    for (const listener of this.shared.listeners)
      Atomics.store(this.cells, this.countIndex(listener, worker), 0);
    return reclaimed;
  }

  private countIndex(listener: string, worker: number): number {
    return this.shared.listeners.indexOf(listener) * this.shared.workers + worker;
  }

  private slotIndex(worker: number, slot: number): number {
    return this.mailboxBase + (worker * MAILBOX_SLOTS + slot) * SLOT_INTS;
  }
}
