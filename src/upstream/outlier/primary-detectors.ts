/**
 * Runs, on the primary, one outlier detector per cluster that has `outlier_detection`, each on its
 * own `interval` timer, with its events bound to `cluster.<c>.outlier_detection.*` in the
 * primary's stats row (one writer: these counters are decisions, made only here).
 */
import type { ClusterConfig } from '../../config/bootstrap';
import { OUTLIER_DETECTION_COUNTERS, OUTLIER_DETECTION_GAUGES } from '../../stats/names';
import type { StatsLayout, StatsStore } from '../../stats/store';
import type { HostTable } from '../host-table';
import { ClusterOutlierDetector, type OutlierEvents } from './detector';

const prefixOf = (cluster: string): string => `cluster.${cluster}.outlier_detection.`;

/** Declares the outlier stats of every cluster that has outlier_detection. */
export function declareOutlierStats(layout: StatsLayout, clusters: readonly ClusterConfig[]): void {
  for (const c of clusters) {
    if (!c.outlierDetection) continue;
    layout.declareAll(prefixOf(c.name), OUTLIER_DETECTION_COUNTERS, 'counter');
    layout.declareAll(prefixOf(c.name), OUTLIER_DETECTION_GAUGES, 'gauge');
  }
}

function boundEvents(stats: StatsStore, cluster: string): OutlierEvents {
  const p = prefixOf(cluster);
  const enforcedTotal = stats.counter(`${p}ejections_enforced_total`);
  const overflow = stats.counter(`${p}ejections_overflow`);
  const active = stats.gauge(`${p}ejections_active`);
  return {
    detected: (type) => stats.counter(`${p}ejections_detected_${type}`).inc(),
    enforced: (type) => {
      stats.counter(`${p}ejections_enforced_${type}`).inc();
      enforcedTotal.inc();
    },
    overflow: () => overflow.inc(),
    activeChanged: (delta) => active.add(delta),
  };
}

/** Starts one detector per cluster with outlier_detection, each sweeping every `interval` (timers unref'd). */
export function startOutlierDetectors(
  clusters: readonly ClusterConfig[],
  table: HostTable,
  stats: StatsStore,
  nowMs: () => number,
): void {
  for (const c of clusters) {
    const config = c.outlierDetection;
    const range = table.slotsOf(c.name);
    if (!config || range === undefined) continue;
    const detector = new ClusterOutlierDetector(
      config,
      table,
      range,
      { nowMs, random: Math.random, events: boundEvents(stats, c.name) },
      c.type === 'STATIC',
    );
    setInterval(() => detector.sweep(), config.intervalMs).unref();
  }
}
