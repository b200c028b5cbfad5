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
 * declaration and the worker's binding can never disagree. Every binding is also marked in a shared
 * byte per stat, so a name that is declared but that no thread ever binds (a stat that can only
 * read 0) can be found: `unboundNames()`.
 *
 * Histograms live in a second SharedArrayBuffer with the same one-row-per-thread layout: each
 * histogram is a block of log-linear buckets (see histogram.ts) that its thread increments and
 * the admin sums.
 */
import { HISTOGRAM_SLOTS, HistogramSnapshot, SharedHistogram, type Histogram } from './histogram';

export type StatKind = 'counter' | 'gauge';

export interface StatsLayoutData {
  names: string[];
  kinds: StatKind[];
  /**
   * Stats shown only once nonzero (Envoy creates `upstream_rq_<code>` on first use; Legate lays
   * them all out at config time and hides the ones never touched).
   */
  hiddenUntilUsed: boolean[];
  rows: number;
  sab: SharedArrayBuffer;
  /** Histogram names; histogram h of row r starts at slot (r * histograms.length + h) * HISTOGRAM_SLOTS. */
  histograms: string[];
  histogramSab: SharedArrayBuffer;
  /** One byte per stat, then one per histogram: nonzero once some thread bound it. */
  boundSab: SharedArrayBuffer;
}

export class StatsLayout {
  private readonly index = new Map<string, number>();
  private readonly histogramIndex = new Set<string>();
  readonly names: string[] = [];
  readonly kinds: StatKind[] = [];
  readonly hiddenUntilUsed: boolean[] = [];
  readonly histograms: string[] = [];

  declare(name: string, kind: StatKind, hiddenUntilUsed = false): void {
    if (this.index.has(name)) return;
    this.index.set(name, this.names.length);
    this.names.push(name);
    this.kinds.push(kind);
    this.hiddenUntilUsed.push(hiddenUntilUsed);
  }

  declareAll(prefix: string, names: readonly string[], kind: StatKind, hiddenUntilUsed = false): void {
    for (const n of names) this.declare(prefix + n, kind, hiddenUntilUsed);
  }

  declareHistograms(prefix: string, names: readonly string[]): void {
    for (const n of names) {
      if (this.histogramIndex.has(prefix + n)) continue;
      this.histogramIndex.add(prefix + n);
      this.histograms.push(prefix + n);
    }
  }

  /** Allocates the shared tables for `threads` rows (primary + workers, including restarts' rows). */
  allocate(threads: number): StatsLayoutData {
    const sab = new SharedArrayBuffer(Math.max(1, this.names.length) * threads * 8);
    const histogramSab = new SharedArrayBuffer(
      Math.max(1, this.histograms.length * HISTOGRAM_SLOTS) * threads * 8,
    );
    return {
      names: this.names,
      kinds: this.kinds,
      hiddenUntilUsed: this.hiddenUntilUsed,
      rows: threads,
      sab,
      histograms: this.histograms,
      histogramSab,
      boundSab: new SharedArrayBuffer(Math.max(1, this.names.length + this.histograms.length)),
    };
  }
}

/**
 * `LEGATE_STATS=off` binds every counter, gauge and histogram to a no-op: only for measuring what
 * the shared stats cost on the request path; /stats then shows zeros. Measured with wrk -t2 -c50
 * through --concurrency 2 to an nginx origin, six alternating runs each: on/off = 0.99 (medians
 * 27.4k vs 27.8k req/s), inside this VM's ±10 % run-to-run noise; perf/stats.ts puts a request's
 * ~20 increments and 2 histogram records at ~0.1 µs.
 */
export const STATS_OFF = process.env.LEGATE_STATS === 'off';

/** One thread's view: binds names to slots in its row, and reads all rows for the admin. */
export class StatsStore {
  private readonly all: Float64Array;
  private readonly row: Float64Array;
  private readonly histogramAll: Float64Array;
  private readonly histogramRow: Float64Array;
  private readonly bound: Uint8Array;
  private readonly index = new Map<string, number>();
  private readonly histogramIndex = new Map<string, number>();

  constructor(
    readonly data: StatsLayoutData,
    rowIndex: number,
  ) {
    const n = Math.max(1, data.names.length);
    this.all = new Float64Array(data.sab);
    this.row = new Float64Array(data.sab, rowIndex * n * 8, n);
    const h = data.histograms.length * HISTOGRAM_SLOTS;
    this.histogramAll = new Float64Array(data.histogramSab);
    this.histogramRow = new Float64Array(data.histogramSab, rowIndex * h * 8, h);
    this.bound = new Uint8Array(data.boundSab);
    data.names.forEach((name, i) => this.index.set(name, i));
    data.histograms.forEach((name, i) => this.histogramIndex.set(name, i));
  }

  counter(name: string): Counter {
    const i = this.slot(name);
    return STATS_OFF ? NOOP_STAT : new SharedCounter(this.row, i);
  }

  gauge(name: string): Gauge {
    const i = this.slot(name);
    return STATS_OFF ? NOOP_STAT : new SharedGauge(this.row, i);
  }

  /**
   * Counters declared one after another (`declareAll` of one list), incremented by position:
   * `upstream_rq_<code>` is one `inc(code - 100)` instead of a lookup per response.
   */
  counterGroup(names: readonly string[]): CounterGroup {
    const first = this.slot(names[0]!);
    names.forEach((name, k) => {
      if (this.slot(name) !== first + k) throw new Error(`stats '${names[0]}'… were not declared together`);
    });
    return STATS_OFF ? NOOP_STAT : new SharedCounterGroup(this.row, first);
  }

  histogram(name: string): Histogram {
    const h = this.histogramIndex.get(name);
    if (h === undefined) throw new Error(`histogram '${name}' was not declared by the primary`);
    this.bound[this.data.names.length + h] = 1;
    return STATS_OFF ? NOOP_STAT : new SharedHistogram(this.histogramRow, h * HISTOGRAM_SLOTS);
  }

  /** Process-wide value: the sum over every thread's row. */
  read(i: number): number {
    const n = Math.max(1, this.data.names.length);
    let sum = 0;
    for (let r = 0; r < this.data.rows; r++) sum += this.all[r * n + i]!;
    return sum;
  }

  /** Process-wide histogram `h` (index into `data.histograms`): every thread's buckets summed. */
  readHistogram(h: number): HistogramSnapshot {
    const stride = this.data.histograms.length * HISTOGRAM_SLOTS;
    const out = new Float64Array(HISTOGRAM_SLOTS);
    for (let r = 0; r < this.data.rows; r++) {
      const base = r * stride + h * HISTOGRAM_SLOTS;
      for (let i = 0; i < HISTOGRAM_SLOTS; i++) out[i]! += this.histogramAll[base + i]!;
    }
    return new HistogramSnapshot(out);
  }

  /**
   * Declared stats (and histograms) that no thread has bound yet. Components bind their stats when
   * they are built, so once every thread is up a name listed here is one no code will ever update.
   * Names hidden until used (`upstream_rq_<code>`) are bound as a group and count as bound.
   */
  unboundNames(): string[] {
    const names = this.data.names;
    const out: string[] = [];
    for (let i = 0; i < names.length; i++) if (this.bound[i] === 0) out.push(names[i]!);
    const histograms = this.data.histograms;
    for (let h = 0; h < histograms.length; h++) {
      if (this.bound[names.length + h] === 0) out.push(histograms[h]!);
    }
    return out;
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
    this.bound[i] = 1;
    return i;
  }
}

export interface Counter {
  inc(): void;
  add(n: number): void;
}

export interface Gauge {
  inc(): void;
  dec(): void;
  add(n: number): void;
  /** Sets this thread's contribution (for a value only one thread reports). */
  set(n: number): void;
}

export interface CounterGroup {
  /** Increments the k-th counter of the group. */
  inc(k: number): void;
}

class SharedCounter implements Counter {
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

class SharedGauge implements Gauge {
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
  set(n: number): void {
    this.row[this.i] = n;
  }
}

class SharedCounterGroup implements CounterGroup {
  constructor(
    private readonly row: Float64Array,
    private readonly first: number,
  ) {}
  inc(k: number): void {
    this.row[this.first + k]!++;
  }
}

/** Every stat kind at once, doing nothing (LEGATE_STATS=off). */
const NOOP_STAT: Counter & Gauge & CounterGroup & Histogram = {
  inc: () => {},
  dec: () => {},
  add: () => {},
  set: () => {},
  record: () => {},
};
