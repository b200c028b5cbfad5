/**
 * Transport sockets (Envoy's `transport_socket` extensions): what runs between the TCP connection
 * and the network filters. A listener's filter chain names one (category
 * 'downstream_transport_socket'): `envoy.transport_sockets.raw_buffer` (plaintext: the accepted
 * socket goes to the filters as it is) or `envoy.transport_sockets.tls` (node:tls; the filters get
 * the TLS socket once its handshake succeeded). A native TLS path would be another factory here.
 */
import type * as net from 'node:net';
import type { ExtensionFactory } from '../registry/registry';
import type { SocketConnector } from '../upstream/transport';
import type { StatsLayout, StatsStore } from '../stats/store';
import type { EngineTlsSettings } from '../native/bindings';
import type { EngineTlsFacts } from '../engine/exchange';

/** Per-listener context a transport factory gets on its worker. */
export interface DownstreamTransportContext {
  readonly stats: StatsStore;
  /** `listener.<address>.`: the listener's stat prefix (Envoy puts TLS stats under `<prefix>ssl.`). */
  readonly listenerStatPrefix: string;
}

/** The TLS facts of a secured connection (for headers, access logs and routing). */
export interface TlsConnectionInfo {
  /** 'TLSv1.2', 'TLSv1.3'. */
  readonly version: string;
  readonly cipher: string;
  /** SNI sent by the client ('' without). */
  readonly serverName: string;
  /** ALPN protocol agreed ('' without). */
  readonly alpn: string;
  /** The client certificate's subject, RFC 2253 style as Envoy prints it ('' without). */
  readonly peerSubject: string;
  /** The client certificate (mTLS), null without one. */
  readonly clientCertificate: ClientCertificate | null;
}

/** What x-forwarded-client-cert can say of a client certificate and of the certificate Legate served. */
export interface ClientCertificate {
  /** SHA-256 of its DER, lower-case hex. */
  readonly hash: string;
  readonly subject: string;
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  /** The leaf's PEM, and the chain's (leaf first) as the client sent them. */
  readonly pem: string;
  readonly chainPem: string;
  /** URI SANs of the certificate Legate presented on this connection (XFCC's By). */
  readonly localUriSans: readonly string[];
}

/**
 * A connection's addresses as a listener filter restored them (the PROXY protocol's source and
 * destination): Envoy's downstream remote and local addresses. The socket's own peer stays the
 * direct remote address (%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%).
 */
export interface RestoredAddresses {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** What the listener learned about a downstream connection before its filters got it. */
export interface DownstreamConnectionInfo {
  /** SNI seen by tls_inspector or the TLS handshake ('' without): Envoy's %REQUESTED_SERVER_NAME%. */
  readonly requestedServerName: string;
  /** Null unless the listener terminated TLS on it. */
  readonly tls: TlsConnectionInfo | null;
  /** Null unless a listener filter (proxy_protocol) restored the client's addresses. */
  readonly addresses: RestoredAddresses | null;
}

/**
 * The info of each downstream connection that has any (keyed by the socket its filters get), for
 * whoever serves it: x-forwarded-proto, :scheme and the access-log operators.
 */
export const downstreamInfoOf = new WeakMap<object, DownstreamConnectionInfo>();

/**
 * A transport the native engine can terminate itself (TLS in C: native-bindings/src/engine/tls.c),
 * when the listener it belongs to runs on the engine: the engine builds its own context from
 * `engineSettings()`, and reports each handshake here to be counted as `start` counts its own.
 */
export interface EngineTerminableTransport {
  /** Why the engine cannot terminate this transport (it then runs on Node's TLS), or null. */
  readonly engineIneligibility: string | null;
  /** What new handshakes use now (after reloads). */
  engineSettings(): EngineTlsSettings;
  /**
   * Reads changed certificate files again (at most every 500 ms, as `start` does): true when
   * `engineSettings()` changed and the engine should use them for new handshakes.
   */
  reloadIfChanged(nowMs: number): boolean;
  /** A handshake the engine completed: counted under `ssl.*`; the connection's TLS facts. */
  engineSecured(facts: EngineTlsFacts): TlsConnectionInfo;
  /** A handshake that failed or timed out in the engine: counted under `ssl.*`. */
  engineHandshakeFailed(): void;
}

export interface DownstreamTransport {
  /** Set when the native engine can terminate this transport itself. */
  readonly engine?: EngineTerminableTransport;
  /**
   * Runs the transport's handshake on an accepted socket: `done` gets the socket the filters use
   * (with its TLS facts), or null when the handshake failed (the socket is then closed, and
   * counted under `ssl.*`).
   */
  start(
    socket: net.Socket,
    done: (secured: net.Socket | null, info: TlsConnectionInfo | null) => void,
    /** The SNI when tls_inspector already read the ClientHello (undefined: not known yet). */
    serverName?: string,
  ): void;
}

export interface DownstreamTransportSocketFactory<C = unknown> extends ExtensionFactory<C> {
  readonly category: 'downstream_transport_socket';
  /** Plaintext (raw_buffer): the config keeps no transport for such a chain. */
  readonly plaintext?: true;
  /** On the primary, before workers start: the stats `createTransport` will bind. */
  declareStats?(config: C, layout: StatsLayout, listenerStatPrefix: string): void;
  /** Once per worker per filter chain; null for plaintext (raw_buffer). */
  createTransport(config: C, ctx: DownstreamTransportContext): DownstreamTransport | null;
}

/** Per-cluster context an upstream transport factory gets on its worker. */
export interface UpstreamTransportContext {
  /** Null in unit tests: nothing is counted. */
  readonly stats: StatsStore | null;
  /** `cluster.<name>.`: TLS stats go under `<prefix>ssl.`, as in Envoy. */
  readonly clusterStatPrefix: string;
  /** auto_san_validation: a host's certificate must cover the server name of the connection (auto_sni). */
  readonly autoSanValidation: boolean;
}

/**
 * A cluster's `transport_socket` (category 'upstream_transport_socket'): how its pools reach the
 * hosts, as an UpstreamConnector (the pool's seam, src/upstream/transport.ts).
 */
export interface UpstreamTransportSocketFactory<C = unknown> extends ExtensionFactory<C> {
  readonly category: 'upstream_transport_socket';
  /** Plaintext (raw_buffer): the config keeps no transport for such a cluster. */
  readonly plaintext?: true;
  declareStats?(config: C, layout: StatsLayout, clusterStatPrefix: string): void;
  /** Once per worker per cluster: how the cluster's pools open their sockets. */
  createConnector(config: C, ctx: UpstreamTransportContext): SocketConnector;
}
