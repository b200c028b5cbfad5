/**
 * `/clusters` in Envoy's two formats, from the config and the shared host table (every worker's
 * per-host counters, read without messaging the workers):
 * - text: `cluster::default_priority::max_connections::1024`, `cluster::added_via_api::false`, and
 *   per host `cluster::ip:port::cx_active::N` (`cx_connect_fail`, `rq_active`, `rq_total`,
 *   `health_flags`, `weight`, `priority`, …);
 * - `?format=json`: `admin.v3.Clusters` as proto3 JSON (uint64 as strings, zero values omitted).
 *
 * With outlier_detection, both show what the success-rate detector computed at its last interval
 * (the detectors run on the primary, like this admin): text `cluster::outlier::success_rate_average`
 * and `…_ejection_threshold` (and their `local_origin_` pair) and each host's `success_rate`; JSON
 * `success_rate_ejection_threshold` when above 0 and each host's `success_rate` when computed, as
 * Envoy's clusters_handler does. -1 (text) or an absent field (JSON) means not computed.
 *
 * Hosts of STATIC clusters sit at fixed slots. DNS clusters claim slots by address hash in each
 * worker, which the primary cannot map back to addresses: their configured endpoints are listed
 * without per-host counters.
 */
import type { ClusterConfig, CircuitBreakerThresholds } from '../config/bootstrap';
import { defaultThresholds } from '../config/circuit-breakers';
import { HostColumn, type HostTable } from '../upstream/host-table';
import type { SuccessRateReadout } from '../upstream/outlier/detector';
import type { OutlierReadouts } from '../upstream/outlier/primary-detectors';
import type { Origin } from '../upstream/outlier/rate-detectors';

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
  /** Its `health_status` (UNKNOWN reads HEALTHY); other than HEALTHY is Envoy's failed_eds_health. */
  edsHealthStatus: string;
  /** At the last outlier interval, percent; -1: not computed. */
  successRate: number;
  localOriginSuccessRate: number;
}

/** Envoy's `health_flags` text: the failure flags in Envoy's order, or `healthy`. */
function healthFlags(h: HostView): string {
  const flags =
    (h.failedActiveHc ? '/failed_active_hc' : '') +
    (h.ejected ? '/failed_outlier_check' : '') +
    (h.edsHealthStatus !== 'HEALTHY' ? '/failed_eds_health' : '');
  return flags || 'healthy';
}

function hostViews(c: ClusterConfig, table: HostTable, outlier: SuccessRateReadout | undefined): HostView[] {
  const slots = c.slotPerEndpoint ? table.slotsOf(c.name) : undefined;
  return c.endpoints.map((e, i) => {
    const slot = slots === undefined ? -1 : slots.firstSlot + i;
    const rate = (origin: Origin): number =>
      slot < 0 || outlier === undefined ? -1 : outlier.hostSuccessRate(slot, origin);
    return {
      address: e.address.address,
      port: e.address.port,
      weight: e.weight,
      priority: e.priority,
      stats: slot < 0 ? null : hostStats(table, slot),
      ejected: slot >= 0 && table.get(slot, HostColumn.OutlierEjected) !== 0,
      failedActiveHc: slot >= 0 && table.get(slot, HostColumn.ActiveHcFailed) !== 0,
      edsHealthStatus: e.healthStatus ?? 'HEALTHY',
      successRate: rate('external'),
      localOriginSuccessRate: rate('local'),
    };
  });
}

/** C's `%g` (fmt's `{:g}`): six significant digits, trailing zeros dropped, as Envoy prints these. */
function formatG(x: number): string {
  const [mantissa, exp] = x.toExponential(5).split('e') as [string, string];
  const e = Number(exp);
  const trim = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
  if (e < -4 || e >= 6)
    return `${trim(mantissa)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return trim(x.toFixed(5 - e));
}

/** Envoy's addOutlierInfo: the cluster-level lines, only for clusters with a detector. */
function outlierLines(name: string, outlier: SuccessRateReadout): string[] {
  const lines: string[] = [];
  for (const [origin, prefix] of [
    ['external', ''],
    ['local', 'local_origin_'],
  ] as const) {
    const nums = outlier.successRateNums(origin);
    lines.push(
      `${name}::outlier::${prefix}success_rate_average::${formatG(nums.average)}`,
      `${name}::outlier::${prefix}success_rate_ejection_threshold::${formatG(nums.ejectionThreshold)}`,
    );
  }
  return lines;
}

/** A proto3 JSON `type.v3.Percent` field, present only when `valid`. */
function percent(field: string, value: number, valid: boolean): Record<string, { value: number }> {
  return valid ? { [field]: { value } } : {};
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

export function renderClustersText(
  clusters: readonly ClusterConfig[],
  table: HostTable,
  outliers: OutlierReadouts,
): string {
  const lines: string[] = [];
  for (const c of clusters) {
    const outlier = outliers.readout(c.name);
    lines.push(`${c.name}::observability_name::${c.name}`);
    if (outlier !== undefined) lines.push(...outlierLines(c.name, outlier));
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
    for (const h of hostViews(c, table, outlier)) {
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
        `${p}success_rate::${h.successRate}`,
        `${p}local_origin_success_rate::${h.localOriginSuccessRate}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

export function renderClustersJson(
  clusters: readonly ClusterConfig[],
  table: HostTable,
  outliers: OutlierReadouts,
): unknown {
  return {
    cluster_statuses: clusters.map((c) => {
      const outlier = outliers.readout(c.name);
      const threshold = (origin: Origin): number => outlier?.successRateNums(origin).ejectionThreshold ?? -1;
      return {
        name: c.name,
        observability_name: c.name,
        ...percent('success_rate_ejection_threshold', threshold('external'), threshold('external') > 0),
        ...percent(
          'local_origin_success_rate_ejection_threshold',
          threshold('local'),
          threshold('local') > 0,
        ),
        circuit_breakers: {
          thresholds: thresholds(c).map((t, i) => ({
            ...(i === 1 ? { priority: 'HIGH' } : {}),
            max_connections: t.maxConnections,
            max_pending_requests: t.maxPendingRequests,
            max_requests: t.maxRequests,
            max_retries: t.maxRetries,
          })),
        },
        host_statuses: hostViews(c, table, outlier).map((h) => ({
          address: { socket_address: { address: h.address, port_value: h.port } },
          stats: (h.stats ?? []).map((s) => ({
            name: s.name,
            ...(s.gauge ? { type: 'GAUGE' } : {}),
            ...(s.value !== 0 ? { value: String(s.value) } : {}),
          })),
          health_status: {
            ...(h.failedActiveHc ? { failed_active_health_check: true } : {}),
            ...(h.ejected ? { failed_outlier_check: true } : {}),
            eds_health_status: h.edsHealthStatus,
          },
          ...percent('success_rate', h.successRate, h.successRate >= 0),
          weight: h.weight,
          ...(h.priority !== 0 ? { priority: h.priority } : {}),
          ...percent('local_origin_success_rate', h.localOriginSuccessRate, h.localOriginSuccessRate >= 0),
          locality: {},
        })),
      };
    }),
  };
}
