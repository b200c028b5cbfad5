/**
 * The contracts between HTTP/1.1 codecs and the code that uses them, in the shape of Envoy's
 * `envoy/http/codec.h`: a server connection turns bytes into request events and response calls into
 * bytes; a client connection does the reverse. Two downstream codecs implement `ServerConnection`
 * (Legate's own on `net` sockets with llhttp, and uWS.js), so the connection manager never knows
 * which one it is talking to.
 *
 * All callbacks are synchronous and allocation-light: a codec calls methods on long-lived objects
 * it was handed, never promises or per-chunk closures. Buffers passed to callbacks are views into
 * the chunk just read; a receiver that keeps one past the call must copy it (or own it, when the
 * codec says so).
 */
import type * as net from 'node:net';
import type { HeaderMap } from './header-map';

/** The protocol a request arrived with (Envoy's %PROTOCOL% spelling). */
export type HttpProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

export interface RequestHead {
  method: string;
  /** The request-target exactly as received (origin-form, or absolute-form for proxies). */
  path: string;
  protocol: HttpProtocol;
  /**
   * Header fields, lower-cased names; includes Host, Content-Length, Transfer-Encoding as sent. An
   * HTTP/2 codec gives `:authority` as Host and no other pseudo-header (method and path are above).
   */
  headers: HeaderMap;
  /** The client wants the connection kept open after this exchange (per version and Connection). */
  keepAlive: boolean;
  /** Content-Length, or -1 if absent (chunked or no body). */
  contentLength: number;
  /**
   * A body of unknown length follows: HTTP/1.1 chunked, or HTTP/2 DATA frames without a
   * Content-Length.
   */
  chunked: boolean;
  /**
   * The request asks to switch protocols: CONNECT, or an Upgrade field nominated by Connection
   * (`Upgrade: h2c` excepted: Legate ignores it, as Envoy does). When it has no body as well
   * (`tunnelMayFollow`), a downstream codec ends its request stream only when the tunnel's downstream
   * half closes, or, if the protocol does not switch, once its response is complete. One still set
   * when the request goes upstream is an enabled upgrade, written without framing, keeping `Upgrade`
   * and `Connection` (the connection manager refuses an upgrade with a body).
   */
  upgrade: boolean;
}

/**
 * Whether a request a parser saw ask to switch protocols (`parserUpgrade`: CONNECT, or an Upgrade
 * field nominated by Connection, as llhttp reports it) is an upgrade request for Legate: `Upgrade:
 * h2c` (RFC 7540's cleartext HTTP/2 upgrade, gone from RFC 9113) is not, as Envoy ignores it.
 */
export function isUpgradeRequest(parserUpgrade: boolean, headers: HeaderMap): boolean {
  return parserUpgrade && headers.get('upgrade')?.trim().toLowerCase() !== 'h2c';
}

/** An upgrade request without a body: what follows its head may be a tunnel. */
export function tunnelMayFollow(request: RequestHead): boolean {
  return request.upgrade && request.contentLength <= 0 && !request.chunked;
}

/**
 * Whether a response of `status` to `request` turns the exchange into a byte stream both ways
 * (a tunnel): 101 to an upgrade request, 2xx to CONNECT (RFC 9110 §9.3.6, §15.2.2).
 */
export function switchesProtocols(request: RequestHead, status: number): boolean {
  if (!tunnelMayFollow(request)) return false;
  return request.method === 'CONNECT' ? status >= 200 && status < 300 : status === 101;
}

export interface ResponseHead {
  status: number;
  /** Reason phrase; '' means the standard one for `status`. */
  reason: string;
  headers: HeaderMap;
}

export type StreamResetReason =
  | 'local_reset'
  | 'remote_reset' // the peer closed the connection or sent a RST mid-stream
  | 'refused_stream' // HTTP/2: the peer refused the stream unprocessed (REFUSED_STREAM, or above a GOAWAY's last id)
  | 'connection_failure'
  | 'connection_termination'
  | 'overflow'
  | 'protocol_error';

/** Receives a request from a downstream codec. Implemented by the connection manager's stream. */
export interface RequestDecoder {
  decodeHeaders(head: RequestHead, endStream: boolean): void;
  /** `data` is a view into the read buffer; valid only during the call unless copied. */
  decodeData(data: Buffer, endStream: boolean): void;
  decodeTrailers(trailers: HeaderMap): void;
  /** The downstream went away or the codec gave up on this stream. */
  onResetStream(reason: StreamResetReason): void;
  /** Response bytes queued earlier were flushed; more may be encoded (see `ResponseEncoder.encodeData`). */
  onAboveWriteBufferHighWatermark(): void;
  onBelowWriteBufferLowWatermark(): void;
}

/** Sends a response on a downstream codec. Handed to the connection manager by `newStream`. */
export interface ResponseEncoder {
  /**
   * Writes the status line and headers. The codec owns framing: it removes any Content-Length /
   * Transfer-Encoding / Connection fields it must control and writes its own. `contentLength` is the
   * body length if known (-1 = unknown → chunked for HTTP/1.1, close-delimited for 1.0).
   * The head may be held back and sent together with the first body chunk (one write, one packet).
   */
  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void;
  /**
   * Writes body bytes. The codec may keep `data` (it is not reused by the caller after this call).
   * After a head that switched protocols (`switchesProtocols`) these are the tunnel's bytes, and
   * `endStream` half-closes the downstream connection (FIN) while its bytes keep arriving.
   */
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  /** Send `100 Continue` now (the proxy decides, not the codec). */
  encode100Continue(): void;
  /** Abort the response: the connection is closed (no further requests on it). */
  resetStream(reason: StreamResetReason): void;
  /** Stop/resume reading the request body from the downstream (flow control). */
  readDisable(disable: boolean): void;
  /** The downstream connection's remote address (IP, no port), for x-forwarded-for and logs. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The local (listener-side) address of the downstream connection. */
  readonly localAddress: string;
  readonly localPort: number;
  /** Bytes currently buffered for write on this connection (for flow control decisions). */
  readonly bufferedBytes: number;
  /**
   * Native codecs only: writes the head as `encodeHeaders(head, contentLength, false)` would, and
   * has the body come straight from the upstream stream `source` sends the request on, without
   * passing through JS. `source`'s decoder still gets the end (decodeData with an empty chunk and
   * endStream, or decodeTrailers), which the owner passes on as usual (encodeData / encodeTrailers).
   * Returns false, having written nothing, when it cannot pipe from `source`.
   */
  encodeHeadersPipedFrom?(head: ResponseHead, contentLength: number, source: RequestEncoder): boolean;
  /**
   * Native codecs only, during the upstream `source`'s head event (`ResponseDecoder.decodeHeadersInPlace`):
   * whether `writeProxiedHeadFrom` can answer this stream from it.
   */
  canWriteProxiedHeadFrom?(source: RequestEncoder): boolean;
  /**
   * Native codecs only: writes the response head the connection manager would write for the head
   * `source`'s codec holds, edited only as `plan` and the router say: hop-by-hop
   * fields out, `x-envoy-upstream-service-time: serviceMs` (none when negative), `server` and `date`
   * by the plan, framing and `connection` by the codec. The body then comes as with
   * encodeHeadersPipedFrom, unless `endStream`. Called only when `canWriteProxiedHeadFrom` said so.
   */
  writeProxiedHeadFrom?(
    plan: ProxiedResponsePlan,
    serviceMs: number,
    endStream: boolean,
    source: RequestEncoder,
  ): void;
  /** Native codecs only: body bytes that moved without JS (request body received, response body sent). */
  readonly nativeBodyBytes?: { readonly received: number; readonly sent: number };
  /**
   * Native codecs only: milliseconds since the downstream connection last moved a byte either way.
   * Piped bodies move without JS, and every byte is activity for the stream's idle timeout.
   */
  ioIdleMs?(): number;
  /**
   * After a head that switched protocols: the downstream end of the tunnel, for moving its bytes
   * natively (http/tunnel-splice.ts); null or absent when this codec cannot hand its socket over.
   */
  tunnelSide?(): TunnelSide | null;
}

/** The one field a proxied head written natively adds of the router's (its value is `serviceMs`). */
export const UPSTREAM_SERVICE_TIME_HEADER = 'x-envoy-upstream-service-time';

/** The connection manager's own edits of every upstream response head (finalizeResponseHeaders). */
export interface ProxiedResponsePlan {
  /** server_header_transformation, and the `server` value it writes. */
  readonly serverMode: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  readonly serverName: string;
}

/** What the codec asks of its owner (the connection manager), once per connection. */
export interface ServerConnectionCallbacks {
  /**
   * The first byte of a request arrived (its head is still being read): the owner's request timeouts
   * start here, as Envoy's do. Codecs that cannot tell (uWS) never call it.
   */
  onRequestBegin?(): void;
  /** A request's head is complete and valid. Returns the decoder that will receive it. */
  newStream(encoder: ResponseEncoder): RequestDecoder;
  /**
   * The codec refused the current request (Envoy's codec protocol error: malformed, smuggling-shaped,
   * over a size limit, unsupported version or transfer coding) and closes the connection. `status` is
   * the local reply it sends (400, 413, 426, 431, 501, 505) with a `bodyBytes`-byte body, or 0 when it
   * can send none (the owner's response had started). Called before the request's stream, if it has
   * one, gets `onResetStream`. Codecs that answer such requests without telling (uWS) never call it.
   */
  onProtocolError?(status: number, bodyBytes: number): void;
  /** The connection closed (after any stream resets were delivered). */
  onConnectionClose(): void;
}

/**
 * Why a native codec hands its connection to another (EngineServerConnection.onHandedOff): it opened
 * with the HTTP/2 preface, or its request asks for an upgrade, which the engine does not tunnel.
 */
export type HandOffReason = 'http2-preface' | 'upgrade';

/** A downstream HTTP/1.1 server connection. */
export interface ServerConnection {
  /**
   * Draining begins (Envoy's shutdownNotice, and the `Connection: close` its HCM then adds): every
   * response whose head is written from now on carries `connection: close` and ends the
   * connection. An idle connection stays open, so a request already on its way is still answered;
   * `goAway()` closes it.
   */
  shutdownNotice(): void;
  /**
   * Envoy's drain timeout for HTTP/1: close the connection once no exchange is in flight: at once
   * when idle (FIN after the queued bytes, then a delayed close), else after the current response.
   */
  goAway(): void;
  /** Close now. */
  close(): void;
  /**
   * Answers a request whose head is still arriving (it has no stream yet) with a local reply of
   * `status` and text `body` and `connection: close`, then closes the connection: for the owner's
   * timeouts that run from a request's first byte. Returns false, doing nothing, when no head is
   * partly received.
   */
  replyToPartialRequest(status: number, body: string): boolean;
  readonly activeStreams: number;
}

// ---------------------------------------------------------------- upstream side

/** Receives an upstream response. Implemented by the router's upstream request. */
export interface ResponseDecoder {
  /** 1xx informational responses (other than 101) are delivered here, not through decodeHeaders. */
  decode1xxHeaders(head: ResponseHead): void;
  decodeHeaders(head: ResponseHead, endStream: boolean): void;
  /**
   * Native codecs first offer a head without building it: status `status`, the rest kept in the
   * codec for the duration of the call. True when the decoder had it answered in place (its owner's
   * `writeProxiedHeadFrom`); false, having done nothing, and `decodeHeaders` follows.
   */
  decodeHeadersInPlace?(status: number, endStream: boolean): boolean;
  /** `data` is a view into the read buffer; copy it (or write it downstream) during the call. */
  decodeData(data: Buffer, endStream: boolean): void;
  decodeTrailers(trailers: HeaderMap): void;
  onResetStream(reason: StreamResetReason): void;
  /** The request body outran the upstream socket: stop feeding it until the low watermark call. */
  onAboveWriteBufferHighWatermark(): void;
  onBelowWriteBufferLowWatermark(): void;
}

/** Sends a request on an upstream connection. */
export interface RequestEncoder {
  /** Writes request line + headers (+ `body` if given, in the same write). The codec adds framing. */
  encodeHeaders(head: RequestHead, contentLength: number, endStream: boolean): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  resetStream(reason: StreamResetReason): void;
  /**
   * Stop/resume reading the response (flow control toward a slow downstream). Reference-counted, and
   * scoped to the stream: the codec drops any disables still in force when the stream completes.
   */
  readDisable(disable: boolean): void;
  /**
   * Native codecs only: writes the head as `encodeHeaders(head, contentLength, false)` would, and
   * has the request body come straight from the downstream stream whose encoder is `source`, without
   * passing through JS; its end still reaches the owner, to pass on as usual with encodeData.
   * Returns false, having written nothing, when it cannot pipe from `source`.
   */
  encodeHeadersPipedFrom?(head: RequestHead, contentLength: number, source: ResponseEncoder): boolean;
  /** After a response that switched protocols: the upstream end of the tunnel (see ResponseEncoder). */
  tunnelSide?(): TunnelSide | null;
}

/** What an upstream client connection tells its owner (the connection pool). */
export interface ClientConnectionCallbacks {
  /**
   * The current stream finished: response complete and request fully written. `reusable` is false
   * when either side asked for close, the response was close-delimited, or the exchange broke, or
   * the connection is not back in a clean state (`ClientConnection.reusable`); the codec then closes it.
   */
  onStreamComplete(reusable: boolean): void;
  /**
   * The upstream broke HTTP/1 (a malformed response, conflicting framing, bytes with no request
   * outstanding): the codec closes the connection (an active stream gets onResetStream('protocol_error')).
   */
  onProtocolError?(): void;
  /** The socket closed (peer FIN/RST, error, or close()). An active stream already got onResetStream. */
  onClose(): void;
}

/** An upstream HTTP/1.1 connection: one request at a time (no upstream pipelining). */
export interface ClientConnection {
  newStream(decoder: ResponseDecoder): RequestEncoder;
  close(): void;
  /** True between newStream and onStreamComplete. */
  readonly busy: boolean;
  /**
   * The connection may take a new stream and is in the state a fresh one would be in: idle, open,
   * reading (no read disable left over from the last stream), no partly parsed response, nothing
   * queued for write. A pool hands out only connections for which this is true.
   */
  readonly reusable: boolean;
  /** Bytes a native relay moved for a tunnel on this connection, which the socket's counts miss. */
  readonly splicedBytesRead?: number;
  readonly splicedBytesWritten?: number;
}

// ---------------------------------------------------------------- tunnels moved natively

/**
 * A native relay moving a tunnel's bytes between its two sockets (http/tunnel-splice.ts), as the
 * codecs whose sockets it took see it.
 */
export interface SplicedTunnel {
  /** Bytes moved downstream → upstream, and upstream → downstream, so far. */
  readonly toUpstream: number;
  readonly toDownstream: number;
  /** Milliseconds since a byte last moved either way. */
  idleMs(): number;
  /** Ends the relay if it runs; idempotent. A codec calls it before it destroys a socket the relay took. */
  stop(): void;
}

/**
 * One codec's end of a tunnel (a stream after a 101, or a 2xx to CONNECT) whose bytes a native
 * relay may move instead: the downstream codec's and the upstream one's.
 */
export interface TunnelSide {
  /**
   * The tunnel's socket, if it can leave JS: plain TCP with an fd, the stream still a tunnel open
   * both ways. Null when it never can (TLS) or the tunnel is over.
   */
  tunnelSocket(): net.Socket | null;
  /** Whether it can leave JS now: no bytes read but not yet handled, no read pause in force. */
  readyToSplice(): boolean;
  /**
   * `tunnel` stopped the socket's reads and moves its bytes from now on: the codec neither reads
   * nor half-closes the socket any more, and stops `tunnel` before destroying it. Null: the move
   * was given up before it began, and the codec reads again.
   */
  setSplicedTunnel(tunnel: SplicedTunnel | null): void;
  /**
   * The relay passed each peer's FIN on: the codec ends the stream's half it reads as if it had
   * read the FIN, and closes the socket once the stream is over.
   */
  endSplicedTunnel(): void;
  /** The relay failed on this side's socket (reset, broken pipe): the codec closes it, resetting the stream. */
  resetSplicedTunnel(): void;
}
