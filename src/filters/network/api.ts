/**
 * Network (L4) filters, in the shape of Envoy's `envoy/network/filter.h`, reduced to what Legate
 * runs today: each listener's filter chain ends in one terminal filter that takes ownership of the
 * accepted socket (the HTTP connection manager hands it to an HTTP codec; tcp_proxy will relay it).
 * Non-terminal filters see each new connection first and may reject it.
 */
import type * as net from 'node:net';
import type { ExtensionFactory, Registry } from '../../registry/registry';
import type { ServerConnectionCallbacks } from '../../http/codec';
import type { FilterChainConfig, ListenerConfig } from '../../config/bootstrap';
import type { StatsLayout } from '../../stats/store';

export const enum FilterStatus {
  Continue = 0,
  StopIteration = 1,
}

/** Per-listener context a network filter factory gets on its worker. */
export interface NetworkFilterContext {
  readonly workerIndex: number;
  readonly listener: ListenerConfig;
  /** The filter chain this filter belongs to. */
  readonly chain: FilterChainConfig;
  /** Worker services (cluster manager, stats, timers); the filters that need it cast it. */
  readonly services: unknown;
}

export interface NetworkFilter {
  /**
   * A connection was accepted (and its transport socket's handshake done): StopIteration means the
   * filter closed or took the socket. `peeked` holds bytes listener filters already read from it
   * (e.g. tls_inspector's ClientHello on a plaintext chain), which the filter that consumes the
   * connection's bytes must take first; the socket may be paused by them (`isPaused()`).
   */
  onNewConnection(socket: net.Socket, peeked: Buffer | null): FilterStatus;
  /**
   * The same decision as `onNewConnection` for a connection with no Node socket (the native
   * engine's tcp_proxy sessions): false refuses it (the engine closes it; the filter counted it).
   * Only `connectionOnly` filters have it; a listener whose filters before tcp_proxy all have it
   * may run on the engine.
   */
  admitsConnection?(): boolean;
}

/**
 * A terminal filter that can also serve requests arriving from a codec that owns its own sockets
 * (uWS): the listener then calls `httpCallbacks()` instead of handing over sockets.
 */
export interface TerminalNetworkFilter extends NetworkFilter {
  httpCallbacks?(): ServerConnectionCallbacks;
  /** Stop taking new work and finish in-flight requests; `done` runs when nothing is left. */
  drain(done: () => void): void;
}

export interface NetworkFilterFactory<C = unknown> extends ExtensionFactory<C> {
  readonly category: 'network_filter';
  /**
   * The filter acts only in `onNewConnection` and never needs the connection's bytes, so the
   * terminal filter after it may still move them outside JavaScript (tcp_proxy's splice relay).
   */
  readonly connectionOnly?: boolean;
  /**
   * On the primary, before workers start: declare the stats this filter's workers will bind
   * (`registry` lets the HCM declare its HTTP filters' stats).
   */
  declareStats?(config: C, layout: StatsLayout, registry: Registry): void;
  /** Once per worker per listener filter chain. */
  createFilter(config: C, ctx: NetworkFilterContext): NetworkFilter | TerminalNetworkFilter;
}
