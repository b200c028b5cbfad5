/**
 * Starts the active health checker of every cluster that configures `health_checks`, on the
 * primary thread, with their `cluster.<c>.health_check.*` stats in the primary's stats row.
 */
import type { ClusterConfig } from '../../config/bootstrap';
import type { StatsStore } from '../../stats/store';
import { discoveryFor } from '../cluster-manager';
import type { DnsResolver } from '../discovery/api';
import { systemDnsResolver } from '../discovery/dns-resolver';
import type { HostTable } from '../host-table';
import { ClusterHealthChecker, type HealthCheckStats } from './checker';

export interface HealthCheckers {
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

export function startHealthCheckers(
  clusters: readonly ClusterConfig[],
  table: HostTable,
  stats: StatsStore,
  /** A check of the host in `slot` passed and it is healthy (outlier detection may return it). */
  onCheckPassed: (slot: number) => void = () => {},
  resolver: DnsResolver = systemDnsResolver,
): HealthCheckers {
  const checkers: ClusterHealthChecker[] = [];
  for (const c of clusters) {
    const check = c.healthChecks?.[0];
    if (check === undefined) continue;
    const checker = new ClusterHealthChecker(
      c,
      check,
      table,
      discoveryFor(c, table, resolver),
      bindStats(stats, c.name),
      undefined,
      undefined,
      onCheckPassed,
    );
    checker.start();
    checkers.push(checker);
  }
  return { stop: () => checkers.forEach((c) => c.stop()) };
}
