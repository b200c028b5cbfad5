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
import type { ExtensionConfig, FilterChainConfig, ListenerConfig } from './bootstrap';
import type { DownstreamTransportSocketFactory } from '../transport/api';
import { matchKey, parseFilterChainMatch } from './filter-chain-match';
import type { ParseContext } from '../registry/registry';
import { parseAddress } from './address';
import type { ObjectReader } from './config-reader';
import { checkTerminalLast, resolveExtension } from './extension';
import { rejectUnsupported } from './unsupported';

const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
const HTTP1_CODECS = ['legate', 'uws'] as const;
/** Envoy's default listener_filters_timeout. */
const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;
/**
 * Envoy sets no limit on a TLS handshake by default; Legate bounds it so that a client stalling
 * its handshake cannot hold a connection forever (set 0s for Envoy's behaviour).
 */
const DEFAULT_TRANSPORT_SOCKET_CONNECT_TIMEOUT_MS = 15_000;

const UNSUPPORTED_LISTENER_FIELDS = [
  'filter_chain_matcher',
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
  const chainReaders = r.objectArray('filter_chains');
  const defaultReader = r.object('default_filter_chain');
  if (chainReaders.length === 0 && defaultReader === null)
    r.error('filter_chains', 'a listener needs at least one filter chain (or a default_filter_chain)');
  const filterChains = chainReaders.map((chain) => parseFilterChain(chain, ctx));
  checkDistinctMatches(chainReaders, filterChains);
  if (defaultReader?.has('filter_chain_match'))
    defaultReader.warn('filter_chain_match', 'has no effect on default_filter_chain (as in Envoy)');
  const defaultFilterChain = defaultReader ? parseFilterChain(defaultReader, ctx) : null;
  const listenerFilters = r.objectArray('listener_filters').flatMap((entry) => {
    entry.unsupported('filter_disabled');
    return resolveExtension(entry, 'listener_filter', ctx)?.config ?? [];
  });
  const http1Codec = r.enumValue('legate_http1_codec', HTTP1_CODECS, 'legate');
  if (http1Codec === 'uws') checkUwsCanServe(r, filterChains, defaultFilterChain, listenerFilters);
  warnUninspectedCriteria(chainReaders, filterChains, listenerFilters);
  return {
    at: r.path,
    // Envoy generates a name when none is given; address_port is what its stats call the listener.
    name: r.string('name') || `${address.address}_${address.port}`,
    address,
    filterChains,
    defaultFilterChain,
    listenerFilters,
    listenerFiltersTimeoutMs: r.durationMs('listener_filters_timeout', DEFAULT_LISTENER_FILTERS_TIMEOUT_MS),
    continueOnListenerFiltersTimeout: r.bool('continue_on_listener_filters_timeout', false),
    perConnectionBufferLimitBytes: r.wrappedUint(
      'per_connection_buffer_limit_bytes',
      DEFAULT_BUFFER_LIMIT_BYTES,
    ),
    connectionBalance: parseConnectionBalance(r),
    http1Codec,
    accessLog: parseAccessLogs(r, ctx),
  };
}

function parseFilterChain(r: ObjectReader, ctx: ParseContext): FilterChainConfig {
  rejectUnsupported(r, UNSUPPORTED_FILTER_CHAIN_FIELDS);
  const entries = r
    .objectArray('filters')
    .map((reader) => ({ reader, resolved: resolveExtension(reader, 'network_filter', ctx) }));
  checkTerminalLast(r, 'filters', entries, 'network_filter');
  const socket = r.object('transport_socket');
  const transport = socket ? resolveExtension(socket, 'downstream_transport_socket', ctx) : null;
  const plaintext =
    transport === null || (transport.factory as DownstreamTransportSocketFactory).plaintext === true;
  return {
    at: r.path,
    name: r.string('name') || r.path,
    match: parseFilterChainMatch(r.object('filter_chain_match')),
    transportSocket: plaintext ? null : transport.config,
    transportSocketConnectTimeoutMs: r.durationMs(
      'transport_socket_connect_timeout',
      DEFAULT_TRANSPORT_SOCKET_CONNECT_TIMEOUT_MS,
    ),
    filters: entries.flatMap((e) => (e.resolved ? [e.resolved.config] : [])),
  };
}

/** Two chains that match the same connections: Envoy rejects the listener, and so does Legate. */
function checkDistinctMatches(readers: readonly ObjectReader[], chains: readonly FilterChainConfig[]): void {
  const seen = new Map<string, number>();
  chains.forEach((chain, i) => {
    const key = matchKey(chain.match);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      readers[i]!.error(
        'filter_chain_match',
        `filter_chains[${first}] has the same matching rules; each chain needs its own (as in Envoy)`,
      );
  });
}

/** The uWS codec accepts its own plaintext connections: no TLS, no chain choice, no listener filters. */
function checkUwsCanServe(
  r: ObjectReader,
  chains: readonly FilterChainConfig[],
  defaultChain: FilterChainConfig | null,
  listenerFilters: readonly unknown[],
): void {
  const all = defaultChain ? [...chains, defaultChain] : chains;
  if (all.some((c) => c.transportSocket !== null))
    r.error(
      'legate_http1_codec',
      'the uws codec cannot serve TLS (this uWS build has no TLS); use the legate codec on a listener with a TLS transport_socket',
    );
  else if (all.length > 1 || listenerFilters.length > 0)
    r.error(
      'legate_http1_codec',
      'the uws codec accepts its own connections, so it cannot choose among filter chains or run listener_filters; use the legate codec',
    );
}

/**
 * SNI and transport protocol are only known through tls_inspector, application protocols through
 * it (ALPN) or http_inspector: without them such chains never match.
 */
function warnUninspectedCriteria(
  readers: readonly ObjectReader[],
  chains: readonly FilterChainConfig[],
  listenerFilters: readonly ExtensionConfig[],
): void {
  const has = (name: string): boolean => listenerFilters.some((f) => f.name === name);
  const tlsInspector = has('envoy.filters.listener.tls_inspector');
  const httpInspector = has('envoy.filters.listener.http_inspector');
  chains.forEach((chain, i) => {
    const m = chain.match;
    if (!tlsInspector && (m.serverNames.length > 0 || m.transportProtocol === 'tls'))
      readers[i]!.warn(
        'filter_chain_match',
        'server_names and transport_protocol tls are only known with the envoy.filters.listener.tls_inspector listener filter; without it this chain matches no connection',
      );
    else if (!tlsInspector && !httpInspector && m.applicationProtocols.length > 0)
      readers[i]!.warn(
        'filter_chain_match',
        'application_protocols are only known with the envoy.filters.listener.tls_inspector (ALPN) or envoy.filters.listener.http_inspector listener filter; without them this chain matches no connection',
      );
  });
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
