/**
 * How a connection pool reaches a host (the seam between pooling policy and the bytes). A socket
 * connector opens a socket to a host — plain TCP (`tcpSocketConnector`) or through a cluster's
 * transport socket (TLS: handshake done and the host verified) — and hands it over. The HTTP/1.1
 * pool takes a connector that puts its codec on that socket (`withCodec`), or the native engine's,
 * which opens its own connections (src/engine/); the HTTP/2 pool starts its session on the socket.
 */
import * as net from 'node:net';
import type { ClientConnection, ClientConnectionCallbacks } from '../http/codec';

/** What a pool connection hears while its transport connects, then as the codec's owner. */
export interface ConnectHandler extends ClientConnectionCallbacks {
  /** Connected: `codec` speaks HTTP/1.1 on it and reports to this handler from now on. */
  onConnected(codec: ClientConnection): void;
  /** The connect failed (never after onConnected). `detail` is for logs, e.g. "connect error: ECONNREFUSED". */
  onConnectFailed(detail: string): void;
}

/** A transport being opened, or open: its byte counts, and a way to abandon it before it connects. */
export interface UpstreamTransport {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** False once the transport closed or failed: an idle connection that went stale. */
  readonly writable: boolean;
  destroy(): void;
}

/** What a pool asks of one connection beyond the cluster's transport settings. */
export interface ConnectOptions {
  /** The TLS server name (auto_sni), over the cluster's `sni`. */
  readonly serverName?: string;
  /** The protocols to offer by ALPN when the cluster's TLS context lists none (the pool's protocol). */
  readonly alpn?: readonly string[];
}

/** Opens a transport to `address:port` (an IP literal). Calls neither handler method before it returns. */
export type UpstreamConnector = (
  address: string,
  port: number,
  handler: ConnectHandler,
  options?: ConnectOptions,
) => UpstreamTransport;

/** What a socket connector tells its caller: once, one or the other. */
export interface SocketHandler {
  /** Connected (through TLS: handshake done, host verified); the socket is the caller's. */
  onConnected(socket: net.Socket): void;
  /** `detail` is for logs and local replies, e.g. "connect error: ECONNREFUSED" or a TLS_error. */
  onConnectFailed(detail: string): void;
}

/** Opens a socket to `address:port` (an IP literal), as UpstreamConnector does. */
export type SocketConnector = (
  address: string,
  port: number,
  handler: SocketHandler,
  options?: ConnectOptions,
) => UpstreamTransport;

/** Wraps a connected socket in an HTTP/1.1 client codec (`createClientConnection`). */
export type ClientCodecFactory = (
  socket: net.Socket,
  callbacks: ClientConnectionCallbacks,
) => ClientConnection;

/** TCP with `net` (no happy-eyeballs: addresses are IP literals). */
export const tcpSocketConnector: SocketConnector = (address, port, handler) => {
  const socket = net.connect({ host: address, port, noDelay: true });
  const onConnect = (): void => {
    socket.removeListener('error', onError);
    handler.onConnected(socket);
  };
  const onError = (err: NodeJS.ErrnoException): void => {
    socket.removeListener('connect', onConnect);
    handler.onConnectFailed(`connect error: ${err.code ?? err.message}`);
  };
  socket.once('connect', onConnect);
  socket.once('error', onError);
  return socket;
};

/** The HTTP/1.1 pool's connector over `connect`: `codec` on each socket, reporting to the pool. */
export function withCodec(connect: SocketConnector, codec: ClientCodecFactory): UpstreamConnector {
  return (address, port, handler, options) =>
    connect(
      address,
      port,
      {
        onConnected: (socket) => handler.onConnected(codec(socket, handler)),
        onConnectFailed: (detail) => handler.onConnectFailed(detail),
      },
      options,
    );
}
