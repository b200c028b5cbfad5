/**
 * The "interval" half of Envoy's `P50(interval,cumulative)`: what each histogram recorded during
 * the last completed flush interval (Envoy's `stats_flush_interval`, 5 s by default). The admin
 * thread keeps the previous cumulative snapshot and diffs it on a timer; workers are not involved.
 */
import { HistogramSnapshot } from './histogram';
import type { StatsStore } from './store';

export const STATS_FLUSH_INTERVAL_MS = 5000;

export class HistogramIntervals {
  /** By histogram name: positions move when a reload adds or drops histograms. */
  private previous: Map<string, HistogramSnapshot>;
  private last = new Map<string, HistogramSnapshot>();
  private readonly timer: NodeJS.Timeout | null;

  /** `intervalMs` 0 means no timer: the caller drives `flush()` (tests). */
  constructor(
    private readonly stats: StatsStore,
    intervalMs = STATS_FLUSH_INTERVAL_MS,
  ) {
    this.previous = this.readAll();
    this.timer = intervalMs > 0 ? setInterval(() => this.flush(), intervalMs) : null;
    this.timer?.unref();
  }

  /** Ends the current interval. */
  flush(): void {
    const now = this.readAll();
    this.last = new Map();
    for (const [name, snap] of now) {
      const before = this.previous.get(name);
      this.last.set(name, before === undefined ? snap : snap.minus(before));
    }
    this.previous = now;
  }

  /** Histogram `h` (position in the store's `histograms`) over the last completed interval. */
  interval(h: number): HistogramSnapshot {
    return this.last.get(this.stats.histograms[h]!) ?? HistogramSnapshot.empty();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  private readAll(): Map<string, HistogramSnapshot> {
    return new Map(this.stats.histograms.map((name, h) => [name, this.stats.readHistogram(h)]));
  }
}
