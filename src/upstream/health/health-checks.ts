/**
 * Starts the active health checker of every cluster that configures `health_checks`, on the
 * primary thread, with their `cluster.<c>.health_check.*` stats in the primary's stats row.
 */
import type { ClusterConfig, HealthCheckConfig } from '../../config/bootstrap';
import { STATS_OFF, type StatsStore } from '../../stats/store';
import { discoveryFor } from '../cluster-manager';
import type { DnsResolver } from '../discovery/api';
import { systemDnsResolver } from '../discovery/dns-resolver';
import type { HostTable } from '../host-table';
import type { Registry } from '../../registry/registry';
import { ClusterHealthChecker, type HealthCheckStats } from './checker';
import { HealthEventLog } from './event-log';

export interface HealthCheckers {
  /** Resolves once every checked cluster has checked each of its first hosts once (warm-up). */
  readonly warmed: Promise<void>;
  readonly clusterCount: number;
  /**
   * A reload: keeps the checkers of the clusters named in `kept` (their config is unchanged),
   * stops the others, and starts one for every other cluster with health_checks. Resolves when
   * the new ones have checked their first hosts (Envoy warms an added or changed cluster so).
   */
  update(clusters: readonly ClusterConfig[], kept: ReadonlySet<string>): Promise<void>;
  stop(): void;
}

function bindStats(stats: StatsStore, cluster: string): HealthCheckStats {
  const p = `cluster.${cluster}.health_check.`;
  return {
    attempt: stats.counter(p + 'attempt'),
    success: stats.counter(p + 'success'),
    failure: stats.counter(p + 'failure'),
    networkFailure: stats.counter(p + 'network_failure'),
    healthy: stats.gauge(p + 'healthy'),
  };
}

/** The counters whose first use means "the cluster has had traffic" in Envoy's `interval()`. */
const TRAFFIC_STATS = ['upstream_cx_total', 'upstream_cx_tx_bytes_total', 'upstream_cx_rx_bytes_total'];

/**
 * Whether `cluster` has ever had traffic, summed over every worker's row. Latched like Envoy's
 * `used()` flag: /reset_counters does not bring back the no-traffic intervals. With
 * LEGATE_STATS=off nothing is counted, so every cluster counts as having traffic.
 */
export function trafficSeen(stats: StatsStore, cluster: string): () => boolean {
  const names = TRAFFIC_STATS.map((n) => `cluster.${cluster}.${n}`).filter(
    (n) => stats.value(n) !== undefined,
  );
  let seen = STATS_OFF || names.length === 0;
  return () => (seen ||= names.some((n) => stats.value(n)! > 0));
}

function eventLog(cluster: ClusterConfig, check: HealthCheckConfig): HealthEventLog | null {
  if (check.eventLogPath === null) return null;
  try {
    return new HealthEventLog(
      check.eventLogPath,
      cluster.name,
      check.http ? 'HTTP' : check.grpc ? 'GRPC' : 'TCP',
    );
  } catch (err) {
    throw new Error(`cluster '${cluster.name}': health check event_log_path: ${(err as Error).message}`);
  }
}

export function startHealthCheckers(
  clusters: readonly ClusterConfig[],
  table: HostTable,
  stats: StatsStore,
  /** Where cluster types (their discoveries) are found. */
  registry: Registry,
  /** A check of the host in `slot` passed and it is healthy (outlier detection may return it). */
  onCheckPassed: (slot: number) => void = () => {},
  resolver: DnsResolver = systemDnsResolver,
): HealthCheckers {
  let checkers = new Map<string, ClusterHealthChecker>();
  const start = (list: readonly ClusterConfig[], kept: ReadonlySet<string>): ClusterHealthChecker[] => {
    const next = new Map<string, ClusterHealthChecker>();
    const started: ClusterHealthChecker[] = [];
    for (const c of list) {
      const check = c.healthChecks?.[0];
      if (check === undefined) continue;
      const old = checkers.get(c.name);
      if (old !== undefined && kept.has(c.name)) {
        next.set(c.name, old);
        continue;
      }
      const checker = new ClusterHealthChecker(c, check, table, discoveryFor(c, table, resolver, registry), {
        stats: bindStats(stats, c.name),
        hadTraffic: trafficSeen(stats, c.name),
        eventLog: eventLog(c, check),
        onCheckPassed,
      });
      checker.start();
      next.set(c.name, checker);
      started.push(checker);
    }
    for (const [name, old] of checkers) if (next.get(name) !== old) old.stop();
    checkers = next;
    return started;
  };
  const first = start(clusters, new Set());
  return {
    warmed: Promise.all(first.map((c) => c.warmed)).then(() => {}),
    clusterCount: first.length,
    update: async (list, kept) => {
      await Promise.all(start(list, kept).map((c) => c.warmed));
    },
    stop: () => checkers.forEach((c) => c.stop()),
  };
}
