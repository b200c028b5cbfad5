/**
 * `/clusters` in Envoy's two formats, from the config and the shared host table (every worker's
 * per-host counters, read without messaging the workers):
 * - text: `cluster::default_priority::max_connections::1024`, `cluster::added_via_api::false`, and
 *   per host `cluster::ip:port::cx_active::N` (`cx_connect_fail`, `rq_active`, `rq_total`,
 *   `health_flags`, `weight`, `priority`, …);
 * - `?format=json`: `admin.v3.Clusters` as proto3 JSON (uint64 as strings, zero values omitted).
 *
 * Hosts of STATIC clusters sit at fixed slots. DNS clusters claim slots by address hash in each
 * worker, which the primary cannot map back to addresses: their configured endpoints are listed
 * without per-host counters.
 */
import type { ClusterConfig, CircuitBreakerThresholds } from '../config/bootstrap';
import { defaultThresholds } from '../config/circuit-breakers';
import { HostColumn, type HostTable } from '../upstream/host-table';

interface HostStat {
  name: string;
  value: number;
  gauge: boolean;
}

interface HostView {
  address: string;
  port: number;
  weight: number;
  priority: number;
  /** null: counters unknown (DNS clusters). */
  stats: HostStat[] | null;
  /** Ejected by outlier detection (Envoy's failed_outlier_check health flag). */
  ejected: boolean;
  /** Failed by the active health checker (Envoy's failed_active_hc health flag). */
  failedActiveHc: boolean;
}

/** Envoy's `health_flags` text: the failure flags in Envoy's order, or `healthy`. */
function healthFlags(h: HostView): string {
  const flags = (h.failedActiveHc ? '/failed_active_hc' : '') + (h.ejected ? '/failed_outlier_check' : '');
  return flags || 'healthy';
}

function hostViews(c: ClusterConfig, table: HostTable): HostView[] {
  const slots = c.type === 'STATIC' ? table.slotsOf(c.name) : undefined;
  return c.endpoints.map((e, i) => ({
    address: e.address.address,
    port: e.address.port,
    weight: e.weight,
    priority: e.priority,
    stats: slots === undefined ? null : hostStats(table, slots.firstSlot + i),
    ejected: slots !== undefined && table.get(slots.firstSlot + i, HostColumn.OutlierEjected) !== 0,
    failedActiveHc: slots !== undefined && table.get(slots.firstSlot + i, HostColumn.ActiveHcFailed) !== 0,
  }));
}

function hostStats(table: HostTable, slot: number): HostStat[] {
  return [
    { name: 'cx_active', value: table.get(slot, HostColumn.ActiveConnections), gauge: true },
    { name: 'cx_connect_fail', value: table.get(slot, HostColumn.ConnectFailures) >>> 0, gauge: false },
    { name: 'rq_active', value: table.get(slot, HostColumn.ActiveRequests), gauge: true },
    { name: 'rq_total', value: table.get(slot, HostColumn.TotalRequests) >>> 0, gauge: false },
  ];
}

function thresholds(c: ClusterConfig): [CircuitBreakerThresholds, CircuitBreakerThresholds] {
  return c.circuitBreakers ?? [defaultThresholds(), defaultThresholds()];
}

export function renderClustersText(clusters: readonly ClusterConfig[], table: HostTable): string {
  const lines: string[] = [];
  for (const c of clusters) {
    lines.push(`${c.name}::observability_name::${c.name}`);
    thresholds(c).forEach((t, i) => {
      const p = `${c.name}::${i === 0 ? 'default' : 'high'}_priority::`;
      lines.push(
        `${p}max_connections::${t.maxConnections}`,
        `${p}max_pending_requests::${t.maxPendingRequests}`,
        `${p}max_requests::${t.maxRequests}`,
        `${p}max_retries::${t.maxRetries}`,
      );
    });
    lines.push(`${c.name}::added_via_api::false`);
    for (const h of hostViews(c, table)) {
      const p = `${c.name}::${h.address}:${h.port}::`;
      for (const s of h.stats ?? []) lines.push(`${p}${s.name}::${s.value}`);
      lines.push(
        `${p}hostname::`,
        `${p}health_flags::${healthFlags(h)}`,
        `${p}weight::${h.weight}`,
        `${p}region::`,
        `${p}zone::`,
        `${p}sub_zone::`,
        `${p}canary::false`,
        `${p}priority::${h.priority}`,
        `${p}success_rate::-1`,
        `${p}local_origin_success_rate::-1`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

export function renderClustersJson(clusters: readonly ClusterConfig[], table: HostTable): unknown {
  return {
    cluster_statuses: clusters.map((c) => ({
      name: c.name,
      observability_name: c.name,
      circuit_breakers: {
        thresholds: thresholds(c).map((t, i) => ({
          ...(i === 1 ? { priority: 'HIGH' } : {}),
          max_connections: t.maxConnections,
          max_pending_requests: t.maxPendingRequests,
          max_requests: t.maxRequests,
          max_retries: t.maxRetries,
        })),
      },
      host_statuses: hostViews(c, table).map((h) => ({
        address: { socket_address: { address: h.address, port_value: h.port } },
        stats: (h.stats ?? []).map((s) => ({
          name: s.name,
          ...(s.gauge ? { type: 'GAUGE' } : {}),
          ...(s.value !== 0 ? { value: String(s.value) } : {}),
        })),
        health_status: {
          ...(h.failedActiveHc ? { failed_active_health_check: true } : {}),
          ...(h.ejected ? { failed_outlier_check: true } : {}),
          eds_health_status: 'HEALTHY',
        },
        weight: h.weight,
        ...(h.priority !== 0 ? { priority: h.priority } : {}),
        locality: {},
      })),
    })),
  };
}
