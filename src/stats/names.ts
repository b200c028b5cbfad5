/**
 * The stat names each component owns, with Envoy's spelling. The primary declares them for every
 * configured component; workers bind the same lists, so names cannot drift apart.
 */
export const HTTP_CONN_MANAGER_COUNTERS = [
  'downstream_cx_total',
  'downstream_cx_destroy',
  'downstream_cx_protocol_error',
  'downstream_cx_idle_timeout',
  'downstream_rq_total',
  'downstream_rq_http1_total',
  'downstream_rq_1xx',
  'downstream_rq_2xx',
  'downstream_rq_3xx',
  'downstream_rq_4xx',
  'downstream_rq_5xx',
  'downstream_rq_timeout',
  'downstream_rq_header_timeout',
  'downstream_rq_idle_timeout',
  'downstream_rq_rx_reset',
  'downstream_rq_tx_reset',
  'downstream_rq_completed',
  'no_route',
  'no_cluster',
  'rq_direct_response',
  'rq_redirect',
  'rq_total',
] as const;
export const HTTP_CONN_MANAGER_GAUGES = ['downstream_cx_active', 'downstream_rq_active'] as const;

export const CLUSTER_COUNTERS = [
  'upstream_cx_total',
  'upstream_cx_connect_fail',
  'upstream_cx_connect_timeout',
  'upstream_cx_destroy',
  'upstream_cx_protocol_error',
  'upstream_rq_total',
  'upstream_rq_completed',
  'upstream_rq_timeout',
  'upstream_rq_per_try_timeout',
  'upstream_rq_retry',
  'upstream_rq_retry_success',
  'upstream_rq_rx_reset',
  'upstream_rq_tx_reset',
  'upstream_rq_pending_total',
  'upstream_rq_pending_failure_eject',
  'upstream_rq_1xx',
  'upstream_rq_2xx',
  'upstream_rq_3xx',
  'upstream_rq_4xx',
  'upstream_rq_5xx',
  'upstream_cx_none_healthy',
] as const;
export const CLUSTER_GAUGES = [
  'upstream_cx_active',
  'upstream_rq_active',
  'upstream_rq_pending_active',
] as const;

export const LISTENER_COUNTERS = ['downstream_cx_total'] as const;
export const LISTENER_GAUGES = ['downstream_cx_active'] as const;

export const SERVER_GAUGES = ['live', 'concurrency', 'total_connections', 'uptime'] as const;

/** Envoy's listener stat scope: `listener.<address>_<port>.` (dots in IPv4 kept, as Envoy does). */
export function listenerStatPrefix(address: string, port: number): string {
  return `listener.${address}_${port}.`;
}
