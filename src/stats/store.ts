/**
 * Process-wide stats in one SharedArrayBuffer (Envoy's stats model, threads instead of processes).
 *
 * The primary declares every stat name once from the config (`StatsLayout`), then allocates
 * Float64Arrays with one row per thread (row 0 = primary, row 1+n = worker n). Each thread writes
 * only its own row, so the hot path is a plain `row[i]++` with no Atomics and no contention; the
 * admin sums the rows when it reads. The stats live in blocks of fixed size: a reload adds a block
 * for the names it declares first and drops blocks none of whose names it declares
 * (`StatsLayout.relayout`), so the tables grow and shrink with the config while every bound stat
 * stays a plain index into a buffer that never moves. Gauges work the same way: a worker adds and subtracts its own
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

/**
 * One block of stats: the names declared together (at startup, or new in one reload) and their
 * values, one row per thread. A block's buffers never change size; new names go into a new block.
 */
export interface StatsBlockData {
  /** Unique over the process's life: a reload keeps a block by its id. */
  id: number;
  names: string[];
  kinds: StatKind[];
  /**
   * Stats shown only once nonzero (Envoy creates `upstream_rq_<code>` on first use; Legate lays
   * them all out at config time and hides the ones never touched).
   */
  hiddenUntilUsed: boolean[];
  sab: SharedArrayBuffer;
  /** Histogram names; histogram h of row r starts at slot (r * histograms.length + h) * HISTOGRAM_SLOTS. */
  histograms: string[];
  histogramSab: SharedArrayBuffer;
  /** One byte per stat, then one per histogram: nonzero once some thread bound it. */
  boundSab: SharedArrayBuffer;
}

/** Every live block: what the primary hands the workers at start and after each reload. */
export interface StatsLayoutData {
  /** Threads (rows): primary + workers, including restarts' rows. */
  rows: number;
  blocks: StatsBlockData[];
  /**
   * Names the current config no longer declares that sit in a block still in use for other names:
   * hidden from the admin, and bound again (same slot) if a later config declares them again.
   */
  retired: string[];
  /**
   * Blocks none of whose names the current config declares, most recently dropped first (at most
   * DORMANT_BLOCKS): a config that declares their names again gets them back, values and all, so
   * configs that come and go (a cluster removed, then added back) allocate nothing new.
   */
  dormant: StatsBlockData[];
}

/** Dropped blocks kept for their names' return; older ones are freed. */
export const DORMANT_BLOCKS = 64;

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

  has(name: string): boolean {
    return this.index.has(name) || this.histogramIndex.has(name);
  }

  /** Allocates the shared tables for `threads` rows (primary + workers, including restarts' rows). */
  allocate(threads: number): StatsLayoutData {
    return {
      rows: threads,
      blocks: [this.block(0, this.names.length, this.histograms, threads)],
      retired: [],
      dormant: [],
    };
  }

  /**
   * The tables for this declaration after `previous` (a reload): a block of `previous` (or a
   * dormant one) is in use (values, slots and all) while the new config declares any of its
   * names; one whose names are all gone goes dormant, and leaves the dormant list to be freed once
   * no thread holds a stat bound from it. Names new to this declaration get one new block. So a
   * stat keeps counting across reloads, and a worker still writing a stat bound under an older
   * config writes that same stat or memory no other stat uses, never another stat.
   */
  relayout(previous: StatsLayoutData): StatsLayoutData {
    const blocks: StatsBlockData[] = [];
    const dormant: StatsBlockData[] = [];
    const retired: string[] = [];
    const placed = new Set<string>();
    let nextId = 0;
    for (const b of [...previous.blocks, ...previous.dormant]) {
      nextId = Math.max(nextId, b.id + 1);
      if (!b.names.some((n) => this.has(n)) && !b.histograms.some((n) => this.has(n))) {
        dormant.push(b);
        continue;
      }
      blocks.push(b);
      for (const n of [...b.names, ...b.histograms]) {
        placed.add(n);
        if (!this.has(n)) retired.push(n);
      }
    }
    const fresh = new StatsLayout();
    this.names.forEach((n, i) => {
      if (!placed.has(n)) fresh.declare(n, this.kinds[i]!, this.hiddenUntilUsed[i]);
    });
    fresh.declareHistograms(
      '',
      this.histograms.filter((n) => !placed.has(n)),
    );
    if (fresh.names.length + fresh.histograms.length > 0)
      blocks.push(fresh.block(nextId, fresh.names.length, fresh.histograms, previous.rows));
    return { rows: previous.rows, blocks, retired, dormant: dormant.slice(0, DORMANT_BLOCKS) };
  }

  private block(id: number, count: number, histograms: string[], threads: number): StatsBlockData {
    return {
      id,
      names: this.names.slice(0, count),
      kinds: this.kinds.slice(0, count),
      hiddenUntilUsed: this.hiddenUntilUsed.slice(0, count),
      sab: new SharedArrayBuffer(Math.max(1, count) * threads * 8),
      histograms,
      histogramSab: new SharedArrayBuffer(Math.max(1, histograms.length * HISTOGRAM_SLOTS) * threads * 8),
      boundSab: new SharedArrayBuffer(Math.max(1, count + histograms.length)),
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

/** One thread's views of one block. */
class BlockView {
  readonly all: Float64Array;
  readonly row: Float64Array;
  readonly histogramAll: Float64Array;
  readonly histogramRow: Float64Array;
  readonly bound: Uint8Array;
  /** Stats per row (at least 1: an empty block still has a row stride). */
  readonly stride: number;

  constructor(
    readonly data: StatsBlockData,
    rowIndex: number,
  ) {
    const n = Math.max(1, data.names.length);
    this.stride = n;
    this.all = new Float64Array(data.sab);
    this.row = new Float64Array(data.sab, rowIndex * n * 8, n);
    const h = data.histograms.length * HISTOGRAM_SLOTS;
    this.histogramAll = new Float64Array(data.histogramSab);
    this.histogramRow = new Float64Array(data.histogramSab, rowIndex * h * 8, h);
    this.bound = new Uint8Array(data.boundSab);
  }
}

interface StatRef {
  view: BlockView;
  i: number;
}

/**
 * One thread's view: binds names to slots in its row, and reads all rows for the admin. The
 * admin's readers address stats by position in `names` / `histograms`, which hold the live stats
 * of every block in order; positions change when `update` applies a reload's layout.
 */
export class StatsStore {
  private views = new Map<number, BlockView>();
  private readonly index = new Map<string, StatRef>();
  private readonly histogramIndex = new Map<string, StatRef>();
  /** Live stat names, then their kinds, hidden flags and slots, by position. */
  names: string[] = [];
  kinds: StatKind[] = [];
  hiddenUntilUsed: boolean[] = [];
  private refs: StatRef[] = [];
  histograms: string[] = [];
  private histogramRefs: StatRef[] = [];
  /** Bumped by every `update`: readers that cache positions re-read them when it changes. */
  generation = 0;
  private layoutData: StatsLayoutData;

  constructor(
    data: StatsLayoutData,
    private readonly rowIndex: number,
  ) {
    this.layoutData = data;
    this.apply(data);
  }

  get data(): StatsLayoutData {
    return this.layoutData;
  }

  /** Threads with a row (row 0 is the primary, 1 + n worker n). */
  get rows(): number {
    return this.layoutData.rows;
  }

  /**
   * Takes a reload's layout (`StatsLayout.relayout`): new blocks become bindable, dropped blocks
   * unreachable by name. Stats bound earlier keep writing their own block.
   */
  update(data: StatsLayoutData): void {
    this.layoutData = data;
    this.generation++;
    this.apply(data);
  }

  private apply(data: StatsLayoutData): void {
    const views = new Map<number, BlockView>();
    for (const b of data.blocks) views.set(b.id, this.views.get(b.id) ?? new BlockView(b, this.rowIndex));
    this.views = views;
    const retired = new Set(data.retired);
    this.index.clear();
    this.histogramIndex.clear();
    this.names = [];
    this.kinds = [];
    this.hiddenUntilUsed = [];
    this.refs = [];
    this.histograms = [];
    this.histogramRefs = [];
    for (const view of views.values()) {
      const b = view.data;
      b.names.forEach((name, i) => {
        const ref = { view, i };
        this.index.set(name, ref);
        if (retired.has(name)) return;
        this.names.push(name);
        this.kinds.push(b.kinds[i]!);
        this.hiddenUntilUsed.push(b.hiddenUntilUsed[i]!);
        this.refs.push(ref);
      });
      b.histograms.forEach((name, h) => {
        const ref = { view, i: h };
        this.histogramIndex.set(name, ref);
        if (retired.has(name)) return;
        this.histograms.push(name);
        this.histogramRefs.push(ref);
      });
    }
  }

  counter(name: string): Counter {
    const s = this.slot(name);
    return STATS_OFF ? NOOP_STAT : new SharedCounter(s.view.row, s.i);
  }

  gauge(name: string): Gauge {
    const s = this.slot(name);
    return STATS_OFF ? NOOP_STAT : new SharedGauge(s.view.row, s.i);
  }

  /**
   * Counters declared one after another (`declareAll` of one list), incremented by position:
   * `upstream_rq_<code>` is one `inc(code - 100)` instead of a lookup per response.
   */
  counterGroup(names: readonly string[]): CounterGroup {
    const first = this.slot(names[0]!);
    names.forEach((name, k) => {
      const s = this.slot(name);
      if (s.view !== first.view || s.i !== first.i + k)
        throw new Error(`stats '${names[0]}'… were not declared together`);
    });
    return STATS_OFF ? NOOP_STAT : new SharedCounterGroup(first.view.row, first.i);
  }

  histogram(name: string): Histogram {
    const s = this.histogramIndex.get(name);
    if (s === undefined) throw new Error(`histogram '${name}' was not declared by the primary`);
    s.view.bound[s.view.data.names.length + s.i] = 1;
    return STATS_OFF ? NOOP_STAT : new SharedHistogram(s.view.histogramRow, s.i * HISTOGRAM_SLOTS);
  }

  /** Process-wide value of the stat at position `i` of `names`: the sum over every thread's row. */
  read(i: number): number {
    return sumRows(this.refs[i]!, this.layoutData.rows);
  }

  /** Process-wide value of the stat `name`, or undefined when no block has it. */
  value(name: string): number | undefined {
    const s = this.index.get(name);
    return s === undefined ? undefined : sumRows(s, this.layoutData.rows);
  }

  /** Thread `row`'s own value of the stat at position `i` (row 0 is the primary, 1 + n worker n). */
  readRow(i: number, row: number): number {
    const { view, i: k } = this.refs[i]!;
    return view.all[row * view.stride + k]!;
  }

  /** Process-wide histogram at position `h` of `histograms`: every thread's buckets summed. */
  readHistogram(h: number): HistogramSnapshot {
    const { view, i } = this.histogramRefs[h]!;
    const stride = view.data.histograms.length * HISTOGRAM_SLOTS;
    const out = new Float64Array(HISTOGRAM_SLOTS);
    for (let r = 0; r < this.layoutData.rows; r++) {
      const base = r * stride + i * HISTOGRAM_SLOTS;
      for (let s = 0; s < HISTOGRAM_SLOTS; s++) out[s]! += view.histogramAll[base + s]!;
    }
    return new HistogramSnapshot(out);
  }

  /**
   * Declared stats (and histograms) that no thread has bound yet. Components bind their stats when
   * they are built, so once every thread is up a name listed here is one no code will ever update.
   * Names hidden until used (`upstream_rq_<code>`) are bound as a group and count as bound.
   */
  unboundNames(): string[] {
    const out: string[] = [];
    this.names.forEach((name, i) => {
      const { view, i: k } = this.refs[i]!;
      if (view.bound[k] === 0) out.push(name);
    });
    this.histograms.forEach((name, h) => {
      const { view, i } = this.histogramRefs[h]!;
      if (view.bound[view.data.names.length + i] === 0) out.push(name);
    });
    return out;
  }

  /** Zeroes counters (not gauges) in every row: the admin's /reset_counters. */
  resetCounters(): void {
    for (const view of this.views.values()) {
      const kinds = view.data.kinds;
      for (let i = 0; i < kinds.length; i++) {
        if (kinds[i] !== 'counter') continue;
        for (let r = 0; r < this.layoutData.rows; r++) view.all[r * view.stride + i] = 0;
      }
    }
  }

  /** Clears this thread's gauge contributions (a restarted worker inherits its row). */
  resetOwnGauges(): void {
    for (const view of this.views.values()) {
      const kinds = view.data.kinds;
      for (let i = 0; i < kinds.length; i++) if (kinds[i] === 'gauge') view.row[i] = 0;
    }
  }

  private slot(name: string): StatRef {
    const s = this.index.get(name);
    if (s === undefined) throw new Error(`stat '${name}' was not declared by the primary`);
    s.view.bound[s.i] = 1;
    return s;
  }
}

function sumRows({ view, i }: StatRef, rows: number): number {
  let sum = 0;
  for (let r = 0; r < rows; r++) sum += view.all[r * view.stride + i]!;
  return sum;
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
