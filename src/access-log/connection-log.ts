/**
 * The access-log view of one downstream connection, for the loggers that log connections rather
 * than HTTP streams (tcp_proxy's `access_log`, a listener's `access_log`). It answers the
 * formatter as Envoy's StreamInfo does for a TCP connection: there is no request or response, so
 * %REQ()%, %RESP()% and %PROTOCOL% print '-' and %RESPONSE_CODE% prints 0.
 *
 * The socket's addresses are copied at construction: once a socket is destroyed, Node may no
 * longer be able to report its peer. Addresses a PROXY protocol header restored are the remote
 * and local ones; the socket's peer stays the direct remote address.
 */
import { downstreamInfoOf, type DownstreamConnectionInfo } from '../transport/api';
import { HeaderMap } from '../http/header-map';
import type { AccessLogger, AccessLogStream } from './api';

/** Where a connection's addresses are read: a net.Socket, or a codec that owns its socket. */
export interface ConnectionAddresses {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
}

/** Shared, never written: a connection has no request headers. */
const NO_HEADERS = new HeaderMap();

export class ConnectionLogStream implements AccessLogStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly directRemoteAddress: string;
  readonly directRemotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly startTimeMs: number;
  readonly protocol: string = '';
  readonly requestHeaders = NO_HEADERS;
  readonly request = null;
  readonly responseCode: number = 0;
  responseFlags = '-';
  bytesReceived = 0;
  bytesSent = 0;
  durationMs = 0;
  upstreamHost = '';
  upstreamCluster = '';
  readonly downstreamInfo: DownstreamConnectionInfo | null;
  readonly localReplyBody = null;

  constructor(
    socket: ConnectionAddresses,
    /** Monotonic ms at the start of the connection, for %DURATION%. */
    private readonly startMs: number,
    /** Monotonic ms now, when the object is made after the start (for %START_TIME%). */
    nowMs = startMs,
  ) {
    this.startTimeMs = Date.now() - (nowMs - startMs);
    this.downstreamInfo = downstreamInfoOf.get(socket) ?? null;
    this.directRemoteAddress = socket.remoteAddress ?? '';
    this.directRemotePort = socket.remotePort ?? 0;
    const restored = this.downstreamInfo?.addresses;
    this.remoteAddress = restored?.remoteAddress ?? this.directRemoteAddress;
    this.remotePort = restored?.remotePort ?? this.directRemotePort;
    this.localAddress = restored?.localAddress ?? socket.localAddress ?? '';
    this.localPort = restored?.localPort ?? socket.localPort ?? 0;
  }

  responseHeader(): undefined {
    return undefined;
  }

  route(): null {
    return null;
  }

  /** Adds an Envoy response flag (`UF`, `UO`, …) to those already set. */
  addFlag(flag: string): void {
    this.responseFlags = this.responseFlags === '-' ? flag : `${this.responseFlags},${flag}`;
  }

  /**
   * The connection has ended at monotonic `nowMs`, having received `received` bytes from the
   * downstream and sent it `sent`: hands it to each logger.
   */
  logEnd(nowMs: number, received: number, sent: number, loggers: readonly AccessLogger[]): void {
    this.durationMs = nowMs - this.startMs;
    this.bytesReceived = received;
    this.bytesSent = sent;
    for (let i = 0; i < loggers.length; i++) loggers[i]!.log(this);
  }
}
