/**
 * Listener filters (Envoy's `listener_filters`): they run on each accepted connection before a
 * filter chain is chosen, and learn what the choice needs (SNI, ALPN, whether the client speaks
 * TLS) without consuming the connection: bytes a filter reads are kept in `peeked` and delivered
 * first to whatever serves the connection.
 */
import type * as net from 'node:net';
import type { ExtensionFactory, Registry } from '../../registry/registry';
import type { StatsLayout, StatsStore } from '../../stats/store';
import type { RestoredAddresses } from '../../transport/api';

/** What listener filters learned about one connection (Envoy's ConnectionSocket fields). */
export interface ConnectionFacts {
  /** SNI from the ClientHello ('' when none). */
  serverName: string;
  /** ALPN protocols the client offered, in its order. */
  applicationProtocols: string[];
  /** 'tls' when a ClientHello was seen; '' until a filter decides (the listener then says 'raw_buffer'). */
  transportProtocol: string;
  /** Bytes listener filters read from the socket, to be delivered before any later byte. */
  peeked: Buffer | null;
  /** The client's addresses from a PROXY protocol header (null: the socket's own). */
  addresses: RestoredAddresses | null;
}

/** What is known of a connection before any listener filter looked at it. */
export function unexaminedConnection(): ConnectionFacts {
  return { serverName: '', applicationProtocols: [], transportProtocol: '', peeked: null, addresses: null };
}

export const enum ListenerFilterResult {
  /** Go on with the next listener filter (or choose the filter chain). */
  Continue,
  /** The filter closed the connection (and counted why). */
  Closed,
}

export interface ListenerFilter {
  /**
   * Inspects an accepted socket; calls `done` once (never synchronously). Returns a function that
   * abandons the inspection (listener_filters_timeout): `done` is then not called.
   */
  onAccept(
    socket: net.Socket,
    facts: ConnectionFacts,
    done: (result: ListenerFilterResult) => void,
  ): () => void;
}

export interface ListenerFilterFactory<C = unknown> extends ExtensionFactory<C> {
  readonly category: 'listener_filter';
  declareStats?(config: C, layout: StatsLayout, registry: Registry): void;
  /** Once per worker per listener. */
  createFilter(config: C, stats: StatsStore): ListenerFilter;
}
