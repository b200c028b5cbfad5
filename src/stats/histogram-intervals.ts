/**
 * The "interval" half of Envoy's `P50(interval,cumulative)`: what each histogram recorded during
 * the last completed flush interval (Envoy's `stats_flush_interval`, 5 s by default). The admin
 * thread keeps the previous cumulative snapshot and diffs it on a timer; workers are not involved.
 */
import { HistogramSnapshot } from './histogram';
import type { StatsStore } from './store';

export const STATS_FLUSH_INTERVAL_MS = 5000;

export class HistogramIntervals {
  private previous: HistogramSnapshot[];
  private last: HistogramSnapshot[];
  private readonly timer: NodeJS.Timeout | null;

  /** `intervalMs` 0 means no timer: the caller drives `flush()` (tests). */
  constructor(
    private readonly stats: StatsStore,
    intervalMs = STATS_FLUSH_INTERVAL_MS,
  ) {
    this.previous = this.readAll();
    this.last = this.previous.map(() => HistogramSnapshot.empty());
    this.timer = intervalMs > 0 ? setInterval(() => this.flush(), intervalMs) : null;
    this.timer?.unref();
  }

  /** Ends the current interval. */
  flush(): void {
    const now = this.readAll();
    this.last = now.map((snap, h) => snap.minus(this.previous[h]!));
    this.previous = now;
  }

  /** Histogram `h` over the last completed interval. */
  interval(h: number): HistogramSnapshot {
    return this.last[h]!;
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  private readAll(): HistogramSnapshot[] {
    return this.stats.data.histograms.map((_, h) => this.stats.readHistogram(h));
  }
}
