/**
 * Process-wide stats in one SharedArrayBuffer (Envoy's stats model, threads instead of processes).
 *
 * The primary declares every stat name once from the config (`StatsLayout`), then allocates a
 * Float64Array with one row per thread (row 0 = primary, row 1+n = worker n). Each thread writes
 * only its own row, so the hot path is a plain `row[i]++` with no Atomics and no contention; the
 * admin sums the rows when it reads. Gauges work the same way: a worker adds and subtracts its own
 * contribution, the sum is the process value. Float64 holds integers exactly up to 2^53.
 *
 * Components declare their stats as constant lists (Envoy's ALL_CLUSTER_STATS) so the primary's
 * declaration and the worker's binding can never disagree.
 */
export type StatKind = 'counter' | 'gauge';

export interface StatsLayoutData {
  names: string[];
  kinds: StatKind[];
  rows: number;
  sab: SharedArrayBuffer;
}

export class StatsLayout {
  private readonly index = new Map<string, number>();
  readonly names: string[] = [];
  readonly kinds: StatKind[] = [];

  declare(name: string, kind: StatKind): void {
    if (this.index.has(name)) return;
    this.index.set(name, this.names.length);
    this.names.push(name);
    this.kinds.push(kind);
  }

  declareAll(prefix: string, names: readonly string[], kind: StatKind): void {
    for (const n of names) this.declare(prefix + n, kind);
  }

  /** Allocates the shared table for `threads` rows (primary + workers, including restarts' rows). */
  allocate(threads: number): StatsLayoutData {
    const sab = new SharedArrayBuffer(Math.max(1, this.names.length) * threads * 8);
    return { names: this.names, kinds: this.kinds, rows: threads, sab };
  }
}

/** One thread's view: binds names to slots in its row, and reads all rows for the admin. */
export class StatsStore {
  private readonly all: Float64Array;
  private readonly row: Float64Array;
  private readonly index = new Map<string, number>();

  constructor(
    readonly data: StatsLayoutData,
    rowIndex: number,
  ) {
    const n = Math.max(1, data.names.length);
    this.all = new Float64Array(data.sab);
    this.row = new Float64Array(data.sab, rowIndex * n * 8, n);
    data.names.forEach((name, i) => this.index.set(name, i));
  }

  counter(name: string): Counter {
    return new Counter(this.row, this.slot(name));
  }

  gauge(name: string): Gauge {
    return new Gauge(this.row, this.slot(name));
  }

  /** Process-wide value: the sum over every thread's row. */
  read(i: number): number {
    const n = Math.max(1, this.data.names.length);
    let sum = 0;
    for (let r = 0; r < this.data.rows; r++) sum += this.all[r * n + i]!;
    return sum;
  }

  /** Zeroes counters (not gauges) in every row: the admin's /reset_counters. */
  resetCounters(): void {
    const n = Math.max(1, this.data.names.length);
    for (let i = 0; i < this.data.names.length; i++) {
      if (this.data.kinds[i] !== 'counter') continue;
      for (let r = 0; r < this.data.rows; r++) this.all[r * n + i] = 0;
    }
  }

  /** Clears this thread's gauge contributions (a restarted worker inherits its row). */
  resetOwnGauges(): void {
    for (let i = 0; i < this.data.names.length; i++) if (this.data.kinds[i] === 'gauge') this.row[i] = 0;
  }

  private slot(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`stat '${name}' was not declared by the primary`);
    return i;
  }
}

export class Counter {
  constructor(
    private readonly row: Float64Array,
    private readonly i: number,
  ) {}
  inc(): void {
    this.row[this.i]!++;
  }
  add(n: number): void {
    this.row[this.i]! += n;
  }
}

export class Gauge {
  constructor(
    private readonly row: Float64Array,
    private readonly i: number,
  ) {}
  inc(): void {
    this.row[this.i]!++;
  }
  dec(): void {
    this.row[this.i]!--;
  }
  add(n: number): void {
    this.row[this.i]! += n;
  }
}
