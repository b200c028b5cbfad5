/**
 * Runs, on the primary, one outlier detector per cluster that has `outlier_detection`, each on its
 * own `interval` timer, with its events bound to `cluster.<c>.outlier_detection.*` in the
 * primary's stats row (one writer: these counters are decisions, made only here). Workers' threshold
 * reports and the health checkers' passed checks are routed to the detector owning the slot.
 */
import type { ClusterConfig } from '../../config/bootstrap';
import { OUTLIER_DETECTION_COUNTERS, OUTLIER_DETECTION_GAUGES } from '../../stats/names';
import type { Counter, StatsLayout, StatsStore } from '../../stats/store';
import type { HostTable } from '../host-table';
import { ClusterOutlierDetector, type OutlierEvents, type SuccessRateReadout } from './detector';
import { EJECTION_TYPES, type ConsecutiveType, type EjectionType } from './ejection-types';

const prefixOf = (cluster: string): string => `cluster.${cluster}.outlier_detection.`;

/** What the admin reads: the detector of a cluster, if it has outlier_detection. */
export interface OutlierReadouts {
  readout(cluster: string): SuccessRateReadout | undefined;
}

/** The primary's detectors, addressed by host-table slot (and by cluster name for the admin). */
export interface OutlierDetectors extends OutlierReadouts {
  /** A worker saw the n-th consecutive `type` error of the host in `slot` (WorkerToPrimary). */
  onThreshold(slot: number, type: ConsecutiveType): void;
  /** An active health check of the host in `slot` passed. */
  onActiveCheckPassed(slot: number): void;
  /**
   * A reload (the host table already laid out for `clusters`): keeps the detectors of the
   * clusters named in `kept` (config unchanged: their ejections and back-off continue), stops the
   * others, starts one for every other cluster with outlier_detection.
   */
  update(clusters: readonly ClusterConfig[], kept: ReadonlySet<string>): void;
}

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
  // Bound now, like every other stat: ejections are rare, but a name bound on first use looks unused.
  const detected = new Map<EjectionType, Counter>();
  const enforced = new Map<EjectionType, Counter>();
  for (const type of EJECTION_TYPES) {
    detected.set(type, stats.counter(`${p}ejections_detected_${type}`));
    enforced.set(type, stats.counter(`${p}ejections_enforced_${type}`));
  }
  return {
    detected: (type) => detected.get(type)!.inc(),
    enforced: (type) => {
      enforced.get(type)!.inc();
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
): OutlierDetectors {
  let running = new Map<string, { detector: ClusterOutlierDetector; timer: NodeJS.Timeout }>();
  const update = (list: readonly ClusterConfig[], kept: ReadonlySet<string>): void => {
    const next = new Map<string, { detector: ClusterOutlierDetector; timer: NodeJS.Timeout }>();
    for (const c of list) {
      const config = c.outlierDetection;
      const range = table.slotsOf(c.name);
      if (!config || range === undefined) continue;
      const old = running.get(c.name);
      if (old !== undefined && kept.has(c.name)) {
        next.set(c.name, old);
        continue;
      }
      const detector = new ClusterOutlierDetector(
        config,
        table,
        range,
        { nowMs, random: Math.random, events: boundEvents(stats, c.name) },
        c.slotPerEndpoint,
      );
      const timer = setInterval(() => detector.sweep(), config.intervalMs).unref();
      next.set(c.name, { detector, timer });
    }
    for (const [name, old] of running) if (next.get(name) !== old) clearInterval(old.timer);
    running = next;
  };
  update(clusters, new Set());
  // Few clusters and rare events: a scan finds the owner.
  const owner = (slot: number): ClusterOutlierDetector | undefined => {
    for (const { detector } of running.values()) if (detector.owns(slot)) return detector;
    return undefined;
  };
  return {
    onThreshold: (slot, type) => owner(slot)?.onThreshold(slot, type),
    onActiveCheckPassed: (slot) => owner(slot)?.onActiveCheckPassed(slot),
    readout: (cluster) => running.get(cluster)?.detector,
    update,
  };
}
