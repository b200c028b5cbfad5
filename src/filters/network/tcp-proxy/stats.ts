/**
 * The stats tcp_proxy owns (`tcp.<stat_prefix>.*`, Envoy's names), declared once on the primary
 * and bound once per worker, and the `cluster.<name>.upstream_cx_*` stats it updates (declared for
 * every cluster by stats/declare.ts).
 */
import type { Counter, Gauge, StatsLayout, StatsStore } from '../../../stats/store';

export const TCP_PROXY_COUNTERS = [
  'downstream_cx_total',
  'downstream_cx_no_route',
  'downstream_cx_rx_bytes_total',
  'downstream_cx_tx_bytes_total',
  'downstream_flow_control_paused_reading_total',
  'downstream_flow_control_resumed_reading_total',
  'idle_timeout',
  'max_downstream_connection_duration',
  'upstream_flush_total',
] as const;
export const TCP_PROXY_GAUGES = ['upstream_flush_active'] as const;

export function declareTcpProxyStats(layout: StatsLayout, statPrefix: string): void {
  layout.declareAll(`tcp.${statPrefix}.`, TCP_PROXY_COUNTERS, 'counter');
  layout.declareAll(`tcp.${statPrefix}.`, TCP_PROXY_GAUGES, 'gauge');
}

/** `tcp.<stat_prefix>.*` bound in one worker. */
export class TcpProxyStats {
  readonly cxTotal: Counter;
  readonly cxNoRoute: Counter;
  readonly rxBytes: Counter;
  readonly txBytes: Counter;
  readonly pausedReading: Counter;
  readonly resumedReading: Counter;
  readonly idleTimeout: Counter;
  readonly maxDuration: Counter;
  readonly flushTotal: Counter;
  readonly flushActive: Gauge;

  constructor(stats: StatsStore, statPrefix: string) {
    const p = `tcp.${statPrefix}.`;
    this.cxTotal = stats.counter(p + 'downstream_cx_total');
    this.cxNoRoute = stats.counter(p + 'downstream_cx_no_route');
    this.rxBytes = stats.counter(p + 'downstream_cx_rx_bytes_total');
    this.txBytes = stats.counter(p + 'downstream_cx_tx_bytes_total');
    this.pausedReading = stats.counter(p + 'downstream_flow_control_paused_reading_total');
    this.resumedReading = stats.counter(p + 'downstream_flow_control_resumed_reading_total');
    this.idleTimeout = stats.counter(p + 'idle_timeout');
    this.maxDuration = stats.counter(p + 'max_downstream_connection_duration');
    this.flushTotal = stats.counter(p + 'upstream_flush_total');
    this.flushActive = stats.gauge(p + 'upstream_flush_active');
  }
}

/** The `cluster.<name>.upstream_cx_*` stats of one cluster, bound in one worker. */
export class TcpClusterStats {
  readonly cxTotal: Counter;
  readonly cxActive: Gauge;
  readonly cxConnectFail: Counter;
  readonly cxConnectTimeout: Counter;
  readonly cxNoneHealthy: Counter;
  readonly cxDestroy: Counter;
  readonly rxBytes: Counter;
  readonly txBytes: Counter;

  constructor(stats: StatsStore, cluster: string) {
    const p = `cluster.${cluster}.`;
    this.cxTotal = stats.counter(p + 'upstream_cx_total');
    this.cxActive = stats.gauge(p + 'upstream_cx_active');
    this.cxConnectFail = stats.counter(p + 'upstream_cx_connect_fail');
    this.cxConnectTimeout = stats.counter(p + 'upstream_cx_connect_timeout');
    this.cxNoneHealthy = stats.counter(p + 'upstream_cx_none_healthy');
    this.cxDestroy = stats.counter(p + 'upstream_cx_destroy');
    this.rxBytes = stats.counter(p + 'upstream_cx_rx_bytes_total');
    this.txBytes = stats.counter(p + 'upstream_cx_tx_bytes_total');
  }
}
