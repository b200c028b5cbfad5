/**
 * How a connection pool reaches a host (the seam between pooling policy and the bytes): a
 * connector opens a transport and, once it is connected, hands the pool an HTTP/1.1 codec on it.
 * Legate's JS path connects with `net` and wraps the socket in its JS codec (`tcpConnector`); the
 * native engine opens its own connections (src/engine/); a TLS transport slots in the same way.
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

/** Opens a transport to `address:port` (an IP literal). Calls neither handler method before it returns. */
export type UpstreamConnector = (address: string, port: number, handler: ConnectHandler) => UpstreamTransport;

/** Wraps a connected socket in an HTTP/1.1 client codec (`createClientConnection`). */
export type ClientCodecFactory = (
  socket: net.Socket,
  callbacks: ClientConnectionCallbacks,
) => ClientConnection;

/** TCP with `net` (no happy-eyeballs: addresses are IP literals) and a JS codec on the socket. */
export function tcpConnector(codec: ClientCodecFactory): UpstreamConnector {
  return (address, port, handler) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    const onConnect = (): void => {
      socket.removeListener('error', onError);
      handler.onConnected(codec(socket, handler));
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.removeListener('connect', onConnect);
      handler.onConnectFailed(`connect error: ${err.code ?? err.message}`);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    return socket;
  };
}
