/**
 * The access-log view of a request answered before it became a stream: refused by the codec
 * (Envoy's `DPE`), or timed out while its head was still arriving. Envoy has a stream for such a
 * request from its first byte and logs it like any other; Legate makes streams at headers-complete,
 * so the connection manager logs these through this object instead. There is no request head:
 * %REQ()% prints '-', as Envoy prints for a head it could not parse.
 */
import type * as net from 'node:net';
import { HeaderMap } from '../../../http/header-map';
import type { AccessLogStream } from '../../../access-log/api';

/** Shared, never written: the request head was never complete. */
const NO_HEADERS = new HeaderMap();

export class UnstreamedRequestLog implements AccessLogStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly directRemoteAddress: string;
  readonly directRemotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly protocol = 'HTTP/1.1';
  readonly requestHeaders = NO_HEADERS;
  readonly request = null;
  readonly responseHeaders = null;
  readonly bytesReceived = 0;
  readonly upstreamHost = '';
  readonly upstreamCluster = '';
  /** Wall-clock start (the request's first byte). */
  readonly startTimeMs: number;

  constructor(
    socket: net.Socket,
    readonly responseCode: number,
    readonly responseFlags: string,
    /** Bytes of the local reply's body. */
    readonly bytesSent: number,
    /** From the request's first byte to the reply. */
    readonly durationMs: number,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.directRemoteAddress = this.remoteAddress;
    this.directRemotePort = this.remotePort;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.startTimeMs = Date.now() - durationMs;
  }

  route(): null {
    return null;
  }
}
