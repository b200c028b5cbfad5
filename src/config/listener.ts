/**
 * Envoy's `Listener`. One Legate extension field (documented here because Envoy has no equivalent):
 *
 *   legate_http1_codec: legate | uws   (default legate)
 *
 * chooses the downstream HTTP/1.1 codec of the listener's http_connection_manager: Legate's own
 * parser over node:net, or uWebSockets.js.
 *
 * `access_log` logs the connections no filter chain logs: those closed before any request or
 * session started (see ActiveListener for exactly which).
 */
import { parseAccessLogs } from '../access-log/access-logs';
import type { FilterChainConfig, ListenerConfig } from './bootstrap';
import type { ParseContext } from '../registry/registry';
import { parseAddress } from './address';
import type { ObjectReader } from './config-reader';
import { checkTerminalLast, resolveExtension } from './extension';
import { rejectUnsupported } from './unsupported';

const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
const HTTP1_CODECS = ['legate', 'uws'] as const;

const UNSUPPORTED_LISTENER_FIELDS = [
  'listener_filters',
  'listener_filters_timeout',
  'continue_on_listener_filters_timeout',
  'filter_chain_matcher',
  'default_filter_chain',
  'additional_addresses',
  'stat_prefix',
  'metadata',
  'drain_type',
  'use_original_dst',
  'transparent',
  'freebind',
  'socket_options',
  'tcp_fast_open_queue_length',
  'traffic_direction',
  'udp_listener_config',
  'api_listener',
  'tcp_backlog_size',
  'max_connections_to_accept_per_socket_event',
  'bind_to_port',
  'enable_reuse_port',
  'reuse_port',
  'enable_mptcp',
  'ignore_global_conn_limit',
  'internal_listener',
  'deprecated_v1',
] as const;
const UNSUPPORTED_FILTER_CHAIN_FIELDS = [
  'filter_chain_match',
  'transport_socket',
  'transport_socket_connect_timeout',
  'use_proxy_proto',
  'metadata',
  'tls_context',
  'on_demand_configuration',
] as const;

export function parseListener(r: ObjectReader, ctx: ParseContext): ListenerConfig {
  rejectUnsupported(r, UNSUPPORTED_LISTENER_FIELDS);
  const address = parseAddress(r, 'address', {
    requireIp: true,
    allowPortZero: true,
    ipHint: 'listeners bind to IP addresses, e.g. 0.0.0.0 or 127.0.0.1',
  });
  const chains = r.objectArray('filter_chains');
  if (chains.length === 0) r.error('filter_chains', 'a listener needs at least one filter chain');
  return {
    at: r.path,
    // Envoy generates a name when none is given; address_port is what its stats call the listener.
    name: r.string('name') || `${address.address}_${address.port}`,
    address,
    filterChains: chains.map((chain) => parseFilterChain(chain, ctx)),
    perConnectionBufferLimitBytes: r.wrappedUint(
      'per_connection_buffer_limit_bytes',
      DEFAULT_BUFFER_LIMIT_BYTES,
    ),
    connectionBalance: parseConnectionBalance(r),
    http1Codec: r.enumValue('legate_http1_codec', HTTP1_CODECS, 'legate'),
    accessLog: parseAccessLogs(r, ctx),
  };
}

function parseFilterChain(r: ObjectReader, ctx: ParseContext): FilterChainConfig {
  rejectUnsupported(r, UNSUPPORTED_FILTER_CHAIN_FIELDS);
  r.string('name'); // a label only; Legate picks chains by order (filter_chain_match is unsupported)
  const entries = r
    .objectArray('filters')
    .map((reader) => ({ reader, resolved: resolveExtension(reader, 'network_filter', ctx) }));
  checkTerminalLast(r, 'filters', entries, 'network_filter');
  return { at: r.path, filters: entries.flatMap((e) => (e.resolved ? [e.resolved.config] : [])) };
}

function parseConnectionBalance(r: ObjectReader): ListenerConfig['connectionBalance'] {
  const balance = r.object('connection_balance_config');
  if (!balance) return 'kernel';
  balance.unsupported('extend_balance');
  return balance.oneOf(['exact_balance', 'extend_balance'], true) === 'exact_balance' &&
    balance.object('exact_balance')
    ? 'exact'
    : 'kernel';
}
