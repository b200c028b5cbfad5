/**
 * Reads a cluster's `health_checks[]` (Envoy's `config.core.v3.HealthCheck`) and
 * `common_lb_config.healthy_panic_threshold`. Legate runs HTTP, TCP and gRPC checks, one per
 * cluster; custom checks, TLS options, event sinks other than `event_log_path` and per-check
 * alternative ports are reported unsupported.
 */
import type {
  GrpcHealthCheckConfig,
  HealthCheckConfig,
  HttpHealthCheckConfig,
  TcpHealthCheckConfig,
} from '../../config/bootstrap';
import { readBoolValue } from '../../config/bool-value';
import type { ObjectReader } from '../../config/config-reader';
import { parseHeaderMutations } from '../../config/route/header-mutations';
import { rejectUnsupported } from '../../config/unsupported';

const UNSUPPORTED_HEALTH_CHECK_FIELDS = [
  'custom_health_check',
  'alt_port',
  'event_logger',
  'tls_options',
  'transport_socket_match_criteria',
  'healthy_edge_interval_jitter',
  'event_service',
] as const;
const UNSUPPORTED_HTTP_FIELDS = [
  'send',
  'receive',
  'response_buffer_size',
  'codec_client_type',
  'service_name_matcher',
  'response_headers_to_add',
  'response_headers_to_remove',
] as const;
const UNSUPPORTED_COMMON_LB_FIELDS = [
  'zone_aware_lb_config',
  'locality_weighted_lb_config',
  'update_merge_window',
  'ignore_new_hosts_until_first_hc',
  'close_connections_on_host_set_change',
  'consistent_hashing_lb_config',
  'override_host_status',
] as const;
const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

export function parseHealthChecks(cluster: ObjectReader): HealthCheckConfig[] {
  const checks = cluster.objectArray('health_checks').map(parseHealthCheck);
  if (checks.length > 1)
    cluster.error('health_checks', `Legate runs one health check per cluster, found ${checks.length}`);
  return checks;
}

function parseHealthCheck(r: ObjectReader): HealthCheckConfig {
  rejectUnsupported(r, UNSUPPORTED_HEALTH_CHECK_FIELDS);
  const timeoutMs = requiredDuration(r, 'timeout');
  const intervalMs = requiredDuration(r, 'interval');
  const unhealthyIntervalMs = positiveDuration(r, 'unhealthy_interval', intervalMs);
  const kind = r.oneOf(
    ['http_health_check', 'tcp_health_check', 'grpc_health_check', 'custom_health_check'],
    true,
  );
  const http = r.object('http_health_check');
  const tcp = r.object('tcp_health_check');
  const grpc = r.object('grpc_health_check');
  const noTrafficIntervalMs = positiveDuration(r, 'no_traffic_interval', 60_000);
  const eventLogPath = r.string('event_log_path', '');
  return {
    timeoutMs,
    intervalMs,
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: positiveDuration(r, 'unhealthy_edge_interval', unhealthyIntervalMs),
    healthyEdgeIntervalMs: positiveDuration(r, 'healthy_edge_interval', intervalMs),
    noTrafficIntervalMs,
    noTrafficHealthyIntervalMs: positiveDuration(r, 'no_traffic_healthy_interval', noTrafficIntervalMs),
    eventLogPath: eventLogPath === '' ? null : eventLogPath,
    alwaysLogFailures: r.bool('always_log_health_check_failures', false),
    alwaysLogSuccess: r.bool('always_log_health_check_success', false),
    initialJitterMs: r.durationMs('initial_jitter', 0),
    intervalJitterMs: r.durationMs('interval_jitter', 0),
    intervalJitterPercent: r.uint('interval_jitter_percent', 0),
    unhealthyThreshold: requiredCount(r, 'unhealthy_threshold'),
    healthyThreshold: requiredCount(r, 'healthy_threshold'),
    reuseConnection: readBoolValue(r, 'reuse_connection', true),
    http: kind === 'http_health_check' && http ? parseHttpCheck(http) : null,
    tcp: kind === 'tcp_health_check' && tcp ? parseTcpCheck(tcp) : null,
    grpc: kind === 'grpc_health_check' && grpc ? parseGrpcCheck(grpc) : null,
  };
}

function parseGrpcCheck(r: ObjectReader): GrpcHealthCheckConfig {
  const metadata = r.objectArray('initial_metadata').map((option) => {
    const header = option.requiredObject('header');
    return { key: header.requiredString('key').toLowerCase(), value: header.string('value', '') };
  });
  return {
    serviceName: r.string('service_name', ''),
    authority: r.string('authority', ''),
    initialMetadata: metadata,
  };
}

function parseHttpCheck(r: ObjectReader): HttpHealthCheckConfig {
  rejectUnsupported(r, UNSUPPORTED_HTTP_FIELDS);
  const path = r.requiredString('path');
  if (!path.startsWith('/')) r.error('path', `must start with '/', found '${path}'`);
  const headers = parseHeaderMutations(r);
  const expected = parseStatusRanges(r, 'expected_statuses');
  return {
    host: r.string('host', ''),
    path,
    method: r.enumValue('method', HTTP_METHODS, 'GET'),
    requestHeadersToAdd: headers.requestHeadersToAdd,
    requestHeadersToRemove: headers.requestHeadersToRemove,
    expectedStatuses: expected.length > 0 ? expected : [[200, 201]],
    retriableStatuses: parseStatusRanges(r, 'retriable_statuses'),
  };
}

function parseTcpCheck(r: ObjectReader): TcpHealthCheckConfig {
  const send = r.object('send');
  return {
    send: send ? parsePayload(send) : '',
    receive: r.objectArray('receive').map(parsePayload),
  };
}

/** `config.core.v3.HealthCheck.Payload`: `text` (hex) or `binary` (base64 bytes), as lower-case hex. */
function parsePayload(r: ObjectReader): string {
  if (r.oneOf(['text', 'binary'], true) === 'binary')
    return Buffer.from(r.string('binary'), 'base64').toString('hex');
  const text = r.string('text');
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) r.error('text', `'${text}' is not a hex string`);
  return text.toLowerCase();
}

/** `type.v3.Int64Range` list: `[{start, end}]`, half-open, within 100..599 as Envoy requires. */
function parseStatusRanges(r: ObjectReader, field: string): [number, number][] {
  return r.objectArray(field).map((range) => {
    const start = range.uint('start', 0);
    const end = range.uint('end', 0);
    if (start < 100 || end > 600 || start >= end)
      range.error('', `status range [${start}, ${end}) must be non-empty and within [100, 600)`);
    return [start, end];
  });
}

function requiredDuration(r: ObjectReader, field: string): number {
  if (!r.has(field)) r.error(field, 'is required');
  const ms = r.durationMs(field, 1000);
  if (ms <= 0) r.error(field, 'must be greater than 0s');
  return ms;
}

function positiveDuration(r: ObjectReader, field: string, dflt: number): number {
  const ms = r.durationMs(field, dflt);
  if (ms <= 0) r.error(field, 'must be greater than 0s');
  return ms;
}

function requiredCount(r: ObjectReader, field: string): number {
  if (!r.has(field)) r.error(field, 'is required');
  return r.wrappedUint(field, 1, { min: 1 });
}

/** `common_lb_config.healthy_panic_threshold.value` in percent (default 50). */
export function parseHealthyPanicThreshold(cluster: ObjectReader): number {
  const common = cluster.object('common_lb_config');
  if (common === null) return 50;
  rejectUnsupported(common, UNSUPPORTED_COMMON_LB_FIELDS);
  const percent = common.object('healthy_panic_threshold');
  const value = percent === null ? 50 : (percent.raw('value') ?? 0);
  if (typeof value !== 'number' || !(value >= 0 && value <= 100)) {
    percent!.error('value', `expected a number from 0 to 100, found ${JSON.stringify(value)}`);
    return 50;
  }
  return value;
}
