/**
 * The stat names each component owns, with Envoy's spelling. The primary declares them for every
 * configured component; workers bind the same lists, so names cannot drift apart.
 */
export const HTTP_CONN_MANAGER_COUNTERS = [
  'downstream_cx_total',
  'downstream_cx_destroy',
  'downstream_cx_protocol_error',
  'downstream_cx_idle_timeout',
  'downstream_cx_max_requests_reached',
  'downstream_cx_max_duration_reached',
  'downstream_rq_total',
  'downstream_rq_http1_total',
  'downstream_rq_http2_total',
  'downstream_cx_http2_total',
  'downstream_rq_too_many_premature_resets',
  'downstream_rq_1xx',
  'downstream_rq_2xx',
  'downstream_rq_3xx',
  'downstream_rq_4xx',
  'downstream_rq_5xx',
  'downstream_rq_timeout',
  'downstream_rq_header_timeout',
  'downstream_rq_max_duration_reached',
  'downstream_rq_failed_path_normalization',
  'downstream_rq_redirected_with_normalized_path',
  'downstream_rq_idle_timeout',
  'downstream_rq_rx_reset',
  'downstream_rq_tx_reset',
  'downstream_rq_completed',
  'no_route',
  'no_cluster',
  'rq_direct_response',
  'rq_redirect',
  'rq_total',
  'downstream_cx_upgrades_total',
  'downstream_rq_ws_on_non_ws_route',
] as const;
export const HTTP_CONN_MANAGER_GAUGES = [
  'downstream_cx_active',
  'downstream_rq_active',
  'downstream_cx_http2_active',
  'downstream_cx_upgrades_active',
] as const;
/** Envoy roots the downstream HTTP/2 codec's stats at `http2.` (the listener's scope). */
export const HTTP2_CODEC_COUNTERS = [
  'rx_reset',
  'tx_reset',
  'rx_messaging_error',
  'keepalive_timeout',
] as const;
export const HTTP2_CODEC_GAUGES = ['streams_active'] as const;
export const HTTP_CONN_MANAGER_HISTOGRAMS = ['downstream_rq_time'] as const;

export const CLUSTER_COUNTERS = [
  'upstream_cx_total',
  'upstream_cx_http2_total',
  'upstream_cx_connect_fail',
  'upstream_cx_connect_timeout',
  'upstream_cx_destroy',
  'upstream_cx_protocol_error',
  'upstream_rq_total',
  'upstream_rq_completed',
  'upstream_rq_timeout',
  'upstream_rq_per_try_timeout',
  'upstream_rq_max_duration_reached',
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
  'upstream_cx_rx_bytes_total',
  'upstream_cx_tx_bytes_total',
  'upstream_cx_overflow',
  'upstream_cx_pool_overflow',
  'upstream_rq_pending_overflow',
  'upstream_rq_retry_overflow',
  'lb_healthy_panic',
] as const;
export const CLUSTER_GAUGES = [
  'upstream_cx_active',
  'upstream_rq_active',
  'upstream_rq_pending_active',
  'membership_healthy',
  'membership_total',
] as const;
export const CLUSTER_HISTOGRAMS = ['upstream_rq_time', 'upstream_cx_connect_ms'] as const;
/**
 * `upstream_rq_<code>` for every status 100–599, declared together (one counter group) and shown
 * only once used, as Envoy creates them on first use.
 */
export const CLUSTER_STATUS_CODE_COUNTERS: readonly string[] = Array.from(
  { length: 500 },
  (_, i) => `upstream_rq_${100 + i}`,
);

export const LISTENER_COUNTERS = [
  'downstream_cx_total',
  'no_filter_chain_match',
  'downstream_pre_cx_timeout',
  'downstream_cx_transport_socket_connect_timeout',
] as const;
export const LISTENER_GAUGES = ['downstream_cx_active'] as const;

export const SERVER_GAUGES = [
  'live',
  'concurrency',
  'total_connections',
  'uptime',
  'memory_physical_size',
  // Each thread's V8 heap in its own row (stats/heap-gauges.ts): the sum is the process's JS heap.
  'memory_allocated',
  'memory_heap_size',
] as const;

/** Legate's reloads (SIGHUP, `legate reload`): applied, and rejected (the old config stays). */
export const SERVER_COUNTERS = ['reload_success', 'reload_failed'] as const;

/**
 * Envoy's cluster manager and listener manager: what each config change (startup, reload, xDS
 * update) added, changed and removed, and how many are serving (`active`) or still being built
 * and warmed before they serve (`warming`).
 */
export const CLUSTER_MANAGER_COUNTERS = ['cluster_added', 'cluster_modified', 'cluster_removed'] as const;
export const CLUSTER_MANAGER_GAUGES = ['active_clusters', 'warming_clusters'] as const;
export const LISTENER_MANAGER_COUNTERS = ['listener_added', 'listener_modified', 'listener_removed'] as const;
export const LISTENER_MANAGER_GAUGES = [
  'total_listeners_active',
  'total_listeners_warming',
  // Listeners a change replaced or removed whose connections are still draining (worker 0 reports).
  'total_listeners_draining',
] as const;

/**
 * One xDS subscription's stats (`cluster_manager.cds.`, `listener_manager.lds.`): updates tried,
 * applied, rejected (invalid: the last good config stays), failed (the file could not be read);
 * `version` is a hash of the accepted `version_info`, `update_time` when it was accepted (ms).
 */
export const XDS_SUBSCRIPTION_COUNTERS = [
  'update_attempt',
  'update_success',
  'update_rejected',
  'update_failure',
] as const;
export const XDS_SUBSCRIPTION_GAUGES = ['version', 'update_time'] as const;

/** Envoy's listener stat scope: `listener.<address>_<port>.` (dots in IPv4 kept, as Envoy does). */
export function listenerStatPrefix(address: string, port: number): string {
  return `listener.${address}_${port}.`;
}

/**
 * `cluster.<c>.circuit_breakers.<default|high>.*` gauges, one per circuit-breaker resource, in the
 * order of `Resource` (src/upstream/circuit-breakers.ts): the `_open` gauges always, the
 * `remaining_*` ones when the priority's thresholds set `track_remaining`.
 */
export const CIRCUIT_BREAKER_OPEN_GAUGES = [
  'cx_open',
  'cx_pool_open',
  'rq_pending_open',
  'rq_open',
  'rq_retry_open',
] as const;
export const CIRCUIT_BREAKER_REMAINING_GAUGES = [
  'remaining_cx',
  'remaining_cx_pools',
  'remaining_pending',
  'remaining_rq',
  'remaining_retries',
] as const;

/** `cluster.<c>.outlier_detection.*` counters (clusters with outlier_detection; kept by the primary). */
export const OUTLIER_DETECTION_COUNTERS = [
  'ejections_enforced_total',
  'ejections_overflow',
  'ejections_enforced_consecutive_5xx',
  'ejections_detected_consecutive_5xx',
  'ejections_enforced_consecutive_gateway_failure',
  'ejections_detected_consecutive_gateway_failure',
  'ejections_enforced_consecutive_local_origin_failure',
  'ejections_detected_consecutive_local_origin_failure',
  'ejections_enforced_success_rate',
  'ejections_detected_success_rate',
  'ejections_enforced_failure_percentage',
  'ejections_detected_failure_percentage',
  'ejections_enforced_local_origin_success_rate',
  'ejections_detected_local_origin_success_rate',
  'ejections_enforced_local_origin_failure_percentage',
  'ejections_detected_local_origin_failure_percentage',
] as const;
export const OUTLIER_DETECTION_GAUGES = ['ejections_active'] as const;

/** `cluster.<c>.health_check.*` (clusters with health_checks; kept by the primary's checker). */
export const HEALTH_CHECK_COUNTERS = ['attempt', 'success', 'failure', 'network_failure'] as const;
export const HEALTH_CHECK_GAUGES = ['healthy'] as const;
