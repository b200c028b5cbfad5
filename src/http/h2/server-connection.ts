/**
 * Legate's downstream HTTP/2 codec: Node's `http2` (nghttp2) session on an accepted socket (plaintext
 * with prior knowledge, or TLS after ALPN `h2`), behind the same `ServerConnection` contract as the
 * HTTP/1 codec, so the connection manager and filters see streams as they always do.
 *
 * Translation as Envoy's HTTP/2 codec does it: `:method` and `:path` become the head's method and
 * path, `:authority` becomes Host, repeated `cookie` fields are joined with "; " (RFC 9113 §8.2.3)
 * and other pseudo-headers are dropped; connection-specific response fields (Connection,
 * Keep-Alive, Transfer-Encoding, Upgrade) never go out, and nghttp2 itself refuses requests that
 * carry them. Trailers pass both ways when the response length is unknown when its head goes out
 * (a response with Content-Length ends with its last DATA frame).
 *
 * With `allow_connect`, CONNECT streams are served as Envoy's codec serves them: a classic CONNECT
 * (`:authority` host:port, no `:path`) is a CONNECT request for that target; an extended CONNECT
 * (RFC 8441, `:protocol`; SETTINGS_ENABLE_CONNECT_PROTOCOL is announced) becomes the HTTP/1.1
 * upgrade it stands for: `GET :path` with `Upgrade: <:protocol>` and `Connection: upgrade`. A
 * response that switches protocols (a 2xx to CONNECT, or the 101 to the upgrade, sent as 200)
 * turns the stream into a tunnel: DATA both ways, each direction ending with its END_STREAM, a
 * reset as RST_STREAM CONNECT_ERROR (RFC 9113 §8.5). A WebSocket client over HTTP/2 sends no
 * Sec-WebSocket-Key (RFC 8441 §5): one is made up for an HTTP/1.1 origin, and the accept value
 * computed from it is not passed back.
 *
 * Envoy's premature-reset defence against rapid reset (CVE-2023-44487) is here too: once a
 * connection has had `PREMATURE_RESET_MIN_STREAMS` streams, it is closed with GOAWAY
 * (ENHANCE_YOUR_CALM) as soon as at least half of them were reset by the client within
 * `PREMATURE_RESET_MAX_LIFETIME_MS` of their start.
 */
import { randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import {
  switchesProtocols,
  type RequestDecoder,
  type RequestHead,
  type ResponseEncoder,
  type ResponseHead,
  type ServerConnection,
  type ServerConnectionCallbacks,
  type StreamResetReason,
} from '../codec';
import { HeaderMap } from '../header-map';
import type { Http2ProtocolOptions } from '../../config/http2-options';
import type { Counter, Gauge } from '../../stats/store';
import { Http2Keepalive } from './keepalive';
import { HOP_BY_HOP_FIELDS } from '../hop-by-hop';

const {
  NGHTTP2_NO_ERROR,
  NGHTTP2_PROTOCOL_ERROR,
  NGHTTP2_INTERNAL_ERROR,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_CONNECT_ERROR,
  NGHTTP2_FLAG_END_STREAM,
} = http2.constants;

/** Envoy's `overload.premature_reset_total_stream_count` default. */
const PREMATURE_RESET_MIN_STREAMS = 500;
/** Envoy's `overload.premature_reset_min_stream_lifetime_seconds` default. */
const PREMATURE_RESET_MAX_LIFETIME_MS = 1000;

const EMPTY = Buffer.alloc(0);

/** Response fields HTTP/2 forbids (RFC 9113 §8.2.2); Node refuses to send them. */
const CONNECTION_SPECIFIC = new Set(HOP_BY_HOP_FIELDS);

/** The `http2.*` stats and the HCM's HTTP/2 counters one codec updates. */
export interface Http2CodecStats {
  readonly cxHttp2Total: Counter;
  readonly cxHttp2Active: Gauge;
  /** Streams the client reset (RST_STREAM received). */
  readonly rxReset: Counter;
  /** Streams this side reset. */
  readonly txReset: Counter;
  /** Requests refused for their header fields (underscores, CONNECT). */
  readonly rxMessagingError: Counter;
  readonly streamsActive: Gauge;
  readonly keepaliveTimeout: Counter;
  /** `http.<prefix>.downstream_rq_too_many_premature_resets`. */
  readonly prematureResets: Counter;
}

export interface Http2ServerOptions {
  readonly protocol: Readonly<Http2ProtocolOptions>;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, from the HCM's max_request_headers_kb. */
  readonly maxRequestHeadersKb: number;
  /** The HCM's max_headers_count. */
  readonly maxRequestHeadersCount: number;
  readonly headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
}

/** One HTTP/2 stream: its request goes to `decoder`, its methods are the response's encoder. */
class Http2ServerStream implements ResponseEncoder {
  decoder!: RequestDecoder;
  readonly startMs = performance.now();
  /** Trailers the response head promised room for (Node's waitForTrailers). */
  private trailersAllowed = false;
  private pendingTrailers: HeaderMap | null = null;
  private requestTrailers: HeaderMap | null = null;
  requestComplete: boolean;
  private responseStarted = false;
  responseComplete = false;
  /** Ended, reset, or closed: calls from a stale owner do nothing. */
  detached = false;
  /** This side reset the stream (its close is not the client's reset). */
  resetLocally = false;
  private readDisableCount = 0;
  private aboveWatermark = false;
  /** The response switched protocols: request data flows until the client's END_STREAM, whatever the response did. */
  private tunnel = false;

  constructor(
    readonly connection: Http2ServerConnection,
    readonly stream: http2.ServerHttp2Stream,
    readonly request: RequestHead,
    /** The HEADERS frame ended the request. */
    requestComplete: boolean,
    /** The codec made up the request's Sec-WebSocket-Key (an RFC 8441 WebSocket). */
    private readonly madeUpWebSocketKey: boolean,
  ) {
    this.requestComplete = requestComplete;
    // A request without a body is not read at all: once Node's stream has been read to its end it
    // is destroyed as soon as the response is written, before the write's callback, and Node then
    // builds an ERR_STREAM_DESTROYED error per stream (a fifth of the CPU of a small request).
    if (!requestComplete) {
      stream.on('data', this.onData);
      stream.on('trailers', this.onTrailers);
      stream.on('end', this.onEnd);
    }
    stream.on('close', this.onClose);
    stream.on('error', ignoreError);
  }

  get remoteAddress(): string {
    return this.connection.remoteAddress;
  }
  get remotePort(): number {
    return this.connection.remotePort;
  }
  get localAddress(): string {
    return this.connection.localAddress;
  }
  get localPort(): number {
    return this.connection.localPort;
  }
  get bufferedBytes(): number {
    return this.stream.writableLength;
  }

  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    if (this.detached || this.responseStarted) return;
    this.responseStarted = true;
    let status = head.status;
    this.tunnel = !endStream && switchesProtocols(this.request, status);
    if (this.tunnel) {
      // The 101 to an extended CONNECT's upgrade is its 200 (RFC 8441 §5); a tunnel has no length.
      if (status === 101) status = 200;
      if (this.madeUpWebSocketKey) head.headers.remove('sec-websocket-accept');
      contentLength = -1;
    }
    const fields = toHttp2Fields(head.headers, { ':status': status });
    if (contentLength >= 0 && status !== 204 && status >= 200)
      fields['content-length'] = String(contentLength);
    this.trailersAllowed = !endStream && contentLength < 0 && !this.tunnel;
    try {
      this.stream.respond(fields, { endStream, waitForTrailers: this.trailersAllowed });
    } catch {
      // A field Node will not send (an invalid name or value): the stream cannot be answered.
      this.resetStream('local_reset');
      return;
    }
    if (this.trailersAllowed) this.stream.once('wantTrailers', this.onWantTrailers);
    if (endStream) this.endResponse();
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.detached || !this.responseStarted || this.responseComplete) return;
    const stream = this.stream;
    // nghttp2 sends DATA frames later, from its own queue: the bytes must outlive the caller's
    // view (the HTTP/1 client codec hands out views into its parser's buffer).
    const owned = data.length === 0 ? data : Buffer.from(data);
    if (endStream) {
      if (owned.length > 0) stream.end(owned);
      else stream.end();
      this.endResponse();
      return;
    }
    if (owned.length === 0) return;
    if (!stream.write(owned) && !this.aboveWatermark) {
      this.aboveWatermark = true;
      stream.once('drain', this.onDrain);
      this.decoder.onAboveWriteBufferHighWatermark();
    }
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.detached || !this.responseStarted || this.responseComplete) return;
    // Without room for trailers (the length was known), the body's end is all that can be said.
    if (this.trailersAllowed) this.pendingTrailers = trailers;
    this.stream.end();
    this.endResponse();
  }

  encode100Continue(): void {
    if (this.detached || this.responseStarted || this.stream.closed) return;
    this.stream.additionalHeaders({ ':status': 100 });
  }

  resetStream(_reason: StreamResetReason): void {
    if (this.detached) return;
    this.detached = true;
    this.resetLocally = true;
    this.connection.stats.txReset.inc();
    // A tunnel's connection failed or was reset: RFC 9113 §8.5's CONNECT_ERROR.
    this.stream.close(this.tunnel ? NGHTTP2_CONNECT_ERROR : NGHTTP2_INTERNAL_ERROR);
  }

  readDisable(disable: boolean): void {
    if (this.detached) return;
    if (disable) this.readDisableCount++;
    else if (this.readDisableCount > 0) this.readDisableCount--;
    if (this.readDisableCount > 0) this.stream.pause();
    else this.stream.resume();
  }

  private endResponse(): void {
    this.responseComplete = true;
    // A tunnel's other direction goes on (half-close) until the client's END_STREAM.
    if (this.tunnel && !this.requestComplete) return;
    this.detached = true;
    // The response is whole before the request: ask the client to stop sending (RFC 9113 §8.1).
    if (!this.requestComplete) this.stream.close(NGHTTP2_NO_ERROR);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.detached) return;
    this.decoder.decodeData(chunk, false);
  };

  private readonly onTrailers = (
    _headers: http2.IncomingHttpHeaders,
    _flags: number,
    raw: string[],
  ): void => {
    this.requestTrailers = fromRawFields(raw, 0);
  };

  private readonly onEnd = (): void => {
    if (this.requestComplete) return;
    this.requestComplete = true;
    if (this.detached) return;
    if (this.responseComplete) this.detached = true; // the tunnel's last direction ended
    if (this.requestTrailers !== null) this.decoder.decodeTrailers(this.requestTrailers);
    else this.decoder.decodeData(EMPTY, true);
  };

  private readonly onWantTrailers = (): void => {
    const trailers = this.pendingTrailers;
    this.pendingTrailers = null;
    try {
      this.stream.sendTrailers(trailers === null ? {} : toHttp2Fields(trailers, {}));
    } catch {
      // A trailer Node will not send: the stream ends with a reset instead.
      this.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  };

  private readonly onDrain = (): void => {
    this.aboveWatermark = false;
    if (!this.detached) this.decoder.onBelowWriteBufferLowWatermark();
  };

  private readonly onClose = (): void => {
    const stream = this.stream;
    const reset = stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR;
    const byClient = reset && !this.resetLocally;
    if (byClient) this.connection.stats.rxReset.inc();
    this.connection.streamClosed(this, byClient && !this.responseComplete);
    if (this.detached) return;
    this.detached = true;
    this.decoder.onResetStream(this.connection.closedLocally ? 'connection_termination' : 'remote_reset');
  };
}

class Http2ServerConnection implements ServerConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private readonly session: http2.ServerHttp2Session;
  private readonly streams = new Set<Http2ServerStream>();
  /** close() was called: streams still open are reset as a connection termination. */
  closedLocally = false;
  private closed = false;
  private streamsSeen = 0;
  private prematureResets = 0;
  private readonly keepalive: Http2Keepalive | null;

  constructor(
    socket: net.Socket,
    private readonly callbacks: ServerConnectionCallbacks,
    private readonly options: Http2ServerOptions,
    readonly stats: Http2CodecStats,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    const p = options.protocol;
    socket.setNoDelay(true);
    this.session = http2.performServerHandshake(socket, {
      settings: {
        maxConcurrentStreams: p.maxConcurrentStreams,
        initialWindowSize: p.initialStreamWindowSize,
        headerTableSize: p.hpackTableSize,
        maxHeaderListSize: options.maxRequestHeadersKb * 1024,
        enableConnectProtocol: p.allowConnect,
      },
      // Node counts pseudo-headers too.
      maxHeaderListPairs: options.maxRequestHeadersCount + 4,
    });
    const session = this.session;
    session.on('stream', this.onStream);
    session.on('close', this.onSessionClose);
    session.on('error', ignoreError);
    session.once('connect', () => {
      if (p.initialConnectionWindowSize > 65_535) session.setLocalWindowSize(p.initialConnectionWindowSize);
    });
    stats.cxHttp2Total.inc();
    stats.cxHttp2Active.inc();
    this.keepalive =
      p.keepaliveIntervalMs > 0
        ? new Http2Keepalive(session, p, () => {
            stats.keepaliveTimeout.inc();
            this.terminate(NGHTTP2_NO_ERROR);
          })
        : null;
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Draining: GOAWAY with the last stream id at once; streams in flight finish, then it closes. */
  shutdownNotice(): void {
    if (!this.closed) this.session.close();
  }

  goAway(): void {
    if (!this.closed) this.session.close();
  }

  close(): void {
    if (this.closed) return;
    this.closedLocally = true;
    this.session.destroy();
  }

  /** HTTP/2 heads arrive whole: there is never a partial one to answer. */
  replyToPartialRequest(): boolean {
    return false;
  }

  streamClosed(stream: Http2ServerStream, prematureReset: boolean): void {
    if (!this.streams.delete(stream)) return;
    this.stats.streamsActive.dec();
    if (prematureReset && performance.now() - stream.startMs <= PREMATURE_RESET_MAX_LIFETIME_MS)
      this.prematureResets++;
    if (this.streamsSeen >= PREMATURE_RESET_MIN_STREAMS && this.prematureResets * 2 >= this.streamsSeen) {
      this.stats.prematureResets.inc();
      this.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
    }
  }

  private readonly onStream = (
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
    raw: string[],
  ): void => {
    this.streamsSeen++;
    const head = this.requestHead(headers, raw, flags);
    if (head === null) {
      this.stats.rxMessagingError.inc();
      // Node reports the reset it sends as an 'error' on the stream: unheard, it would end the worker.
      stream.on('error', ignoreError);
      stream.close(headers[':method'] === 'CONNECT' ? NGHTTP2_REFUSED_STREAM : NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    // RFC 8441 §5: no Sec-WebSocket-Key over HTTP/2; an HTTP/1.1 origin needs one.
    const madeUpKey =
      head.upgrade &&
      headers[':protocol']?.toLowerCase() === 'websocket' &&
      !head.headers.has('sec-websocket-key');
    if (madeUpKey) head.headers.set('sec-websocket-key', randomBytes(16).toString('base64'));
    const s = new Http2ServerStream(this, stream, head, endStream, madeUpKey);
    this.streams.add(s);
    this.stats.streamsActive.inc();
    s.decoder = this.callbacks.newStream(s);
    s.decoder.decodeHeaders(head, endStream);
  };

  /** The request head of a HEADERS frame, or null when it must be refused. */
  private requestHead(headers: http2.IncomingHttpHeaders, raw: string[], flags: number): RequestHead | null {
    let method = headers[':method'];
    if (method === undefined) return null;
    const connect = method === 'CONNECT';
    if (connect && !this.options.protocol.allowConnect) return null;
    const fields = fromRawFields(raw, 0);
    const underscores = this.options.headersWithUnderscoresAction;
    if (underscores !== 'ALLOW') {
      for (const name of fields.names.filter((n) => n.indexOf('_') !== -1)) {
        if (underscores === 'REJECT_REQUEST') return null;
        fields.remove(name);
      }
    }
    const authority = headers[':authority'];
    if (authority !== undefined) fields.set('host', authority);
    let path = headers[':path'] ?? '';
    if (connect) {
      const protocol = headers[':protocol'];
      if (protocol === undefined) {
        path = authority ?? ''; // a classic CONNECT's target
      } else {
        method = 'GET'; // Envoy's H2-to-H1 upgrade: the original method is not carried
        fields.set('upgrade', protocol);
        fields.set('connection', 'upgrade');
      }
      fields.remove('content-length');
    }
    const length = fields.get('content-length');
    const contentLength = length !== undefined && /^\d+$/.test(length) ? Number(length) : -1;
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    return {
      method,
      path,
      protocol: 'HTTP/2',
      headers: fields,
      keepAlive: true,
      contentLength,
      // A CONNECT's DATA is the tunnel's, not a body.
      chunked: !connect && !endStream && contentLength < 0,
      upgrade: connect,
    };
  }

  private readonly onSessionClose = (): void => {
    this.closed = true;
    this.keepalive?.stop();
    this.stats.cxHttp2Active.dec();
    // Streams whose 'close' has not come yet end with the session.
    for (const stream of [...this.streams]) {
      this.streams.delete(stream);
      this.stats.streamsActive.dec();
      if (stream.detached) continue;
      stream.detached = true;
      stream.decoder.onResetStream(this.closedLocally ? 'connection_termination' : 'remote_reset');
    }
    this.callbacks.onConnectionClose();
  };

  /** GOAWAY with `code` and the last stream id, then the socket closes. */
  private terminate(code: number): void {
    if (this.closed) return;
    this.closedLocally = true;
    this.session.goaway(code);
    this.session.destroy(undefined, code);
  }
}

/** Header fields from Node's raw [name, value, …] list, pseudo-headers dropped, cookies joined. */
function fromRawFields(raw: string[], from: number): HeaderMap {
  const fields = new HeaderMap();
  let cookie: string | null = null;
  for (let i = from; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (name === 'cookie') cookie = cookie === null ? raw[i + 1]! : `${cookie}; ${raw[i + 1]!}`;
    else fields.add(name, raw[i + 1]!);
  }
  if (cookie !== null) fields.add('cookie', cookie);
  return fields;
}

/** `headers` as Node's outgoing header object (repeated names as arrays), into `into`. */
function toHttp2Fields(headers: HeaderMap, into: http2.OutgoingHttpHeaders): http2.OutgoingHttpHeaders {
  const names = headers.names;
  const values = headers.values;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 58 /* ':' */) continue;
    const had = into[name];
    if (had === undefined) into[name] = values[i]!;
    else if (Array.isArray(had)) had.push(values[i]!);
    else into[name] = [had as string, values[i]!];
  }
  return into;
}

function ignoreError(): void {}

/** Serves HTTP/2 on `socket` (its first bytes may already be buffered in it, e.g. unshifted). */
export function createHttp2ServerConnection(
  socket: net.Socket,
  callbacks: ServerConnectionCallbacks,
  options: Http2ServerOptions,
  stats: Http2CodecStats,
): ServerConnection {
  return new Http2ServerConnection(socket, callbacks, options, stats);
}
