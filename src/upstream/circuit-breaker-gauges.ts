/**
 * The `cluster.<c>.circuit_breakers.<default|high>.*` gauges (Envoy's names): `cx_open`,
 * `cx_pool_open`, `rq_pending_open`, `rq_open`, `rq_retry_open` (1 while that breaker is at its
 * limit) and, with `track_remaining`, `remaining_cx`, `remaining_cx_pools`, `remaining_pending`,
 * `remaining_rq`, `remaining_retries`.
 *
 * Why the primary publishes them instead of the workers: the stats table sums one row per thread,
 * which suits counters and add/subtract gauges but not a value that is *set* from a global count.
 * The global counts already live in the circuit-breaker table, so the primary samples them on a
 * short interval into its own stats row (by deltas, the only write its Gauge offers); workers write
 * nothing extra on the request path. The gauges therefore trail the counts by up to one interval.
 */
import type { ClusterConfig } from '../config/bootstrap';
import { ROUTING_PRIORITIES } from '../config/bootstrap';
import { CIRCUIT_BREAKER_OPEN_GAUGES, CIRCUIT_BREAKER_REMAINING_GAUGES } from '../stats/names';
import type { Gauge, StatsLayout, StatsStore } from '../stats/store';
import {
  RESOURCE_COUNT,
  Resource,
  thresholdsOf,
  type CircuitBreakerState,
  type CircuitBreakerTable,
} from './circuit-breakers';

/** How often the primary samples the counters (ms): below a human's or a scraper's resolution. */
export const GAUGE_REFRESH_MS = 100;

function prefixOf(cluster: string, priority: number): string {
  return `cluster.${cluster}.circuit_breakers.${ROUTING_PRIORITIES[priority]!.toLowerCase()}.`;
}

/** Declares, on the primary, the gauges of every cluster priority (remaining_* only when tracked). */
export function declareCircuitBreakerStats(layout: StatsLayout, clusters: readonly ClusterConfig[]): void {
  for (const c of clusters) {
    for (let p = 0; p < ROUTING_PRIORITIES.length; p++) {
      const prefix = prefixOf(c.name, p);
      layout.declareAll(prefix, CIRCUIT_BREAKER_OPEN_GAUGES, 'gauge');
      if (thresholdsOf(c, p).trackRemaining)
        layout.declareAll(prefix, CIRCUIT_BREAKER_REMAINING_GAUGES, 'gauge');
    }
  }
}

/** A gauge the primary sets to a value: it remembers what it last added. */
class SetGauge {
  private last = 0;
  constructor(private readonly gauge: Gauge) {}
  set(value: number): void {
    if (value !== this.last) this.gauge.add(value - this.last);
    this.last = value;
  }
}

interface Published {
  state: CircuitBreakerState;
  open: SetGauge[];
  /** Empty without track_remaining. */
  remaining: SetGauge[];
}

export class CircuitBreakerGauges {
  private readonly published: Published[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(table: CircuitBreakerTable, clusters: readonly ClusterConfig[], stats: StatsStore) {
    for (const c of clusters) {
      for (let p = 0; p < ROUTING_PRIORITIES.length; p++) {
        const prefix = prefixOf(c.name, p);
        const state = table.state(c, p);
        this.published.push({
          state,
          open: CIRCUIT_BREAKER_OPEN_GAUGES.map((g) => new SetGauge(stats.gauge(prefix + g))),
          remaining: state.thresholds.trackRemaining
            ? CIRCUIT_BREAKER_REMAINING_GAUGES.map((g) => new SetGauge(stats.gauge(prefix + g)))
            : [],
        });
      }
    }
  }

  /** Samples every counter once and publishes the gauges. */
  refresh(): void {
    for (const { state, open, remaining } of this.published) {
      for (let i = 0; i < RESOURCE_COUNT; i++) {
        const r = i as Resource;
        const count = state.count(r);
        const limit = state.limit(r);
        open[i]!.set(count >= limit ? 1 : 0);
        // As Envoy: with a retry budget the retry limit moves with load, so remaining_retries is 0.
        const budgeted = r === Resource.Retries && state.hasRetryBudget;
        remaining[i]?.set(budgeted ? 0 : Math.max(0, limit - count));
      }
    }
  }

  /** Refreshes every `intervalMs` until `stop()`; the timer does not keep the process alive. */
  start(intervalMs = GAUGE_REFRESH_MS): void {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
