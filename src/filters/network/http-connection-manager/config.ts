/**
 * Parses the HttpConnectionManager typed_config (primary thread) into `HttpConnectionManagerConfig`
 * with Envoy's defaults, except one Legate extension: `http_protocol_options.accept_http_10`
 * defaults to true (Envoy: false, answering HTTP/1.0 with 426), because HTTP/1.0 clients such as
 * `ab` are common in benchmarks and Legate serves them correctly.
 */
import {
  FORWARD_CLIENT_CERT_DETAILS,
  type ClientCertDetailsConfig,
  type HttpConnectionManagerConfig,
  type InternalAddressConfig,
  type RdsConfig,
} from '../../../config/bootstrap';
import { parseConfigSource } from '../../../config/xds/config-source';
import { parseCidrRanges } from '../../../config/filter-chain-match';
import type { ObjectReader } from '../../../config/config-reader';
import { checkTerminalLast, resolveExtension } from '../../../config/extension';
import { emptyRouteConfiguration, parseRouteConfiguration } from '../../../config/route/route-configuration';
import { rejectUnsupported } from '../../../config/unsupported';
import type { ParseContext } from '../../../registry/registry';
import { parseAccessLogs } from '../../../access-log/access-logs';
import { parseHttp2ProtocolOptions } from '../../../config/http2-options';
import { parseHcmUpgradeConfigs } from '../../../config/route/upgrade-configs';
import { parseLocalReplyConfig } from './local-reply-config';

const CODEC_TYPES = ['AUTO', 'HTTP1', 'HTTP2', 'HTTP3'] as const;
const SERVER_HEADER_TRANSFORMATIONS = ['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH'] as const;
const UNDERSCORE_ACTIONS = ['ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'] as const;

const UNSUPPORTED_HCM_FIELDS = [
  'scoped_routes',
  'tracing',
  'http3_protocol_options',
  'access_log_options',
  'add_user_agent',
  'request_id_extension',
  'proxy_100_continue',
  'path_normalization_options',
  'stream_error_on_invalid_http_message',
  'delayed_close_timeout',
  'early_header_mutation_extensions',
  'original_ip_detection_extensions',
  'represent_ipv4_remote_address_as_ipv4_mapped_ipv6',
  'stream_flush_timeout',
  'typed_header_validation_config',
  'scheme_header_transformation',
  'append_x_forwarded_port',
  'append_local_overload',
] as const;
const UNSUPPORTED_COMMON_OPTIONS = ['max_response_headers_kb'] as const;
const UNSUPPORTED_HTTP1_OPTIONS = [
  'allow_absolute_url',
  'header_key_format',
  'enable_trailers',
  'allow_chunked_length',
  'send_fully_qualified_url',
  'override_stream_error_on_invalid_http_message',
  'allow_custom_methods',
  'use_balsa_parser',
] as const;

export function parseHttpConnectionManager(r: ObjectReader, ctx: ParseContext): HttpConnectionManagerConfig {
  rejectUnsupported(r, UNSUPPORTED_HCM_FIELDS);
  const codecType = r.enumValue('codec_type', CODEC_TYPES, 'AUTO');
  if (codecType === 'HTTP3') r.error('codec_type', 'HTTP3 is not supported by Legate yet');
  r.oneOf(['route_config', 'rds', 'scoped_routes'], true);
  const routeConfig = r.object('route_config');
  const rds = parseRds(r.object('rds'));
  const common = r.object('common_http_protocol_options');
  if (common) rejectUnsupported(common, UNSUPPORTED_COMMON_OPTIONS);
  const http1 = r.object('http_protocol_options');
  if (http1) rejectUnsupported(http1, UNSUPPORTED_HTTP1_OPTIONS);
  // Before the routes: their typed_per_filter_config names these filters.
  const { httpFilters, unresolved } = parseHttpFilters(r, ctx);
  return {
    statPrefix: r.requiredString('stat_prefix'),
    codecType: codecType === 'HTTP3' ? 'AUTO' : codecType,
    http2: parseHttp2ProtocolOptions(r.object('http2_protocol_options'), 'downstream'),
    routeConfig: routeConfig
      ? parseRouteConfiguration(routeConfig, ctx, httpFilters, unresolved)
      : emptyRouteConfiguration(`${r.path}.${rds ? 'rds' : 'route_config'}`, rds?.routeConfigName),
    httpFilters,
    useRemoteAddress: r.bool('use_remote_address', false),
    xffNumTrustedHops: r.uint('xff_num_trusted_hops', 0),
    skipXffAppend: r.bool('skip_xff_append', false),
    internalAddresses: parseInternalAddressConfig(r.object('internal_address_config')),
    generateRequestId: r.bool('generate_request_id', true),
    preserveExternalRequestId: r.bool('preserve_external_request_id', false),
    alwaysSetRequestIdInResponse: r.bool('always_set_request_id_in_response', false),
    via: r.string('via', ''),
    forwardClientCertDetails: r.enumValue(
      'forward_client_cert_details',
      FORWARD_CLIENT_CERT_DETAILS,
      'SANITIZE',
    ),
    clientCertDetails: parseClientCertDetails(r.object('set_current_client_cert_details')),
    serverName: r.string('server_name', 'legate'),
    serverHeaderTransformation: r.enumValue(
      'server_header_transformation',
      SERVER_HEADER_TRANSFORMATIONS,
      'OVERWRITE',
    ),
    streamIdleTimeoutMs: r.durationMs('stream_idle_timeout', 300_000),
    requestTimeoutMs: r.durationMs('request_timeout', 0),
    maxStreamDurationMs: common?.durationMs('max_stream_duration', 0) ?? 0,
    maxRequestsPerConnection: common?.wrappedUint('max_requests_per_connection', 0) ?? 0,
    maxConnectionDurationMs: common?.durationMs('max_connection_duration', 0) ?? 0,
    requestHeadersTimeoutMs: r.durationMs('request_headers_timeout', 0),
    maxRequestHeadersKb: r.wrappedUint('max_request_headers_kb', 60, { min: 1, max: 8192 }),
    maxRequestHeadersCount: common?.wrappedUint('max_headers_count', 100, { min: 1 }) ?? 100,
    idleTimeoutMs: common?.durationMs('idle_timeout', 3_600_000) ?? 3_600_000,
    headersWithUnderscoresAction:
      common?.enumValue('headers_with_underscores_action', UNDERSCORE_ACTIONS, 'ALLOW') ?? 'ALLOW',
    normalizePath: r.bool('normalize_path', false),
    escapedSlashesAction: readEscapedSlashesAction(r),
    stripTrailingHostDot: r.bool('strip_trailing_host_dot', false),
    stripHostPort: parseStripPortMode(r),
    mergeSlashes: r.bool('merge_slashes', false),
    acceptHttp10: http1?.bool('accept_http_10', true) ?? true,
    defaultHostForHttp10: http1?.string('default_host_for_http_10', '') ?? '',
    drainTimeoutMs: r.durationMs('drain_timeout', 5000),
    accessLog: parseAccessLogs(r, ctx),
    upgradeConfigs: parseHcmUpgradeConfigs(r),
    localReply: parseLocalReplyConfig(r.object('local_reply_config')),
    rds,
  };
}

const ESCAPED_SLASHES_ACTIONS = [
  'IMPLEMENTATION_SPECIFIC_DEFAULT',
  'KEEP_UNCHANGED',
  'REJECT_REQUEST',
  'UNESCAPE_AND_REDIRECT',
  'UNESCAPE_AND_FORWARD',
] as const;

/** `path_with_escaped_slashes_action`; Envoy's implementation-specific default is KEEP_UNCHANGED. */
function readEscapedSlashesAction(r: ObjectReader): HttpConnectionManagerConfig['escapedSlashesAction'] {
  const action = r.enumValue('path_with_escaped_slashes_action', ESCAPED_SLASHES_ACTIONS, 'KEEP_UNCHANGED');
  return action === 'IMPLEMENTATION_SPECIFIC_DEFAULT' ? 'KEEP_UNCHANGED' : action;
}

/** The `strip_port_mode` oneof: `strip_any_host_port` or `strip_matching_host_port`. */
function parseStripPortMode(r: ObjectReader): 'none' | 'any' | 'matching' {
  const which = r.oneOf(['strip_matching_host_port', 'strip_any_host_port'], false);
  if (which === null || !r.bool(which, false)) return 'none';
  return which === 'strip_any_host_port' ? 'any' : 'matching';
}

/** `rds` with a file source (`config_source`) and the `route_config_name` to take from it. */
function parseRds(r: ObjectReader | null): RdsConfig | null {
  if (r === null) return null;
  if (!r.has('config_source')) r.error('config_source', "missing required field 'config_source'");
  const source = parseConfigSource(r, 'config_source');
  const routeConfigName = r.requiredString('route_config_name');
  return source === null ? null : { source, routeConfigName };
}

function parseInternalAddressConfig(r: ObjectReader | null): InternalAddressConfig {
  return {
    unixSockets: r?.bool('unix_sockets', false) ?? false,
    cidrRanges: r ? parseCidrRanges(r, 'cidr_ranges') : [],
  };
}

function parseClientCertDetails(r: ObjectReader | null): ClientCertDetailsConfig {
  return {
    subject: r?.bool('subject', false) ?? false,
    cert: r?.bool('cert', false) ?? false,
    chain: r?.bool('chain', false) ?? false,
    dns: r?.bool('dns', false) ?? false,
    uri: r?.bool('uri', false) ?? false,
  };
}

/** The filters that resolved, and the names of those that did not (reported, or optional and skipped). */
function parseHttpFilters(
  r: ObjectReader,
  ctx: ParseContext,
): { httpFilters: HttpConnectionManagerConfig['httpFilters']; unresolved: string[] } {
  const entries = r
    .objectArray('http_filters')
    .map((reader) => ({ reader, resolved: resolveExtension(reader, 'http_filter', ctx) }));
  checkTerminalLast(r, 'http_filters', entries, 'http_filter');
  return {
    httpFilters: entries.flatMap((e) => (e.resolved ? [e.resolved.config] : [])),
    unresolved: entries.flatMap((e) => (e.resolved ? [] : [e.reader.string('name')])),
  };
}
