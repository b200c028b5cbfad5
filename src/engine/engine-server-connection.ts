/**
 * A downstream connection of the native engine, as the `ServerConnection` the HTTP connection
 * manager drives: the JS half of the engine's server codec. The C half (downstream.c) parses and
 * checks requests exactly as src/http/server-connection.ts does; this half turns its events into
 * `RequestDecoder` calls and the manager's responses into writes, with the same framing decisions
 * (writeResponseHead, shared with the JS codec).
 */
import * as net from 'node:net';
import type {
  HandOffReason,
  ProxiedResponsePlan,
  RequestDecoder,
  RequestEncoder,
  ResponseEncoder,
  ResponseHead,
  ServerConnection,
  ServerConnectionCallbacks,
  StreamResetReason,
} from '../http/codec';
import type { HeaderMap } from '../http/header-map';
import { BodyFraming, writeResponseHead, type ResponseFramingState } from '../http/h1-heads';
import { headWriter, lastChunkWithTrailers } from '../http/h1-serialize';
import { localReplyBody, serializeLocalReply } from '../http/local-reply';
import { EngineEvent, type NativeEngine } from './native-engine';
import { EngineClientConnection } from './engine-client-connection';
import { resetReasonName } from './reset-reasons';

const EMPTY = Buffer.alloc(0);
/** engine.h LG_PROXIED_*: serverWriteProxiedHead's flags. */
const enum ProxiedHead {
  KEEP_ALIVE = 1,
  HTTP11 = 2,
  DRAINING = 4,
  END_STREAM = 8,
}
/** engine.h LG_PROXIED_CLOSES: in serverWriteProxiedHead's result, beside the framing. */
const PROXIED_HEAD_CLOSES = 4;
const CONTINUE_100 = 'HTTP/1.1 100 Continue\r\n\r\n';

/** One request/response exchange; the `ResponseEncoder` handed to the connection manager. */
class EngineServerStream implements ResponseEncoder, ResponseFramingState {
  decoder: RequestDecoder | null = null;
  responseStarted = false;
  responseComplete = false;
  /** The stream ended or was reset: later calls from a stale owner do nothing. */
  detached = false;
  framing = BodyFraming.NONE;
  closeAfterResponse = false;
  aboveWriteWatermark = false;
  /** The response body comes straight from an upstream engine connection. */
  responsePiped = false;
  /** The request body goes straight to an upstream engine connection. */
  requestPiped = false;
  readonly nativeBodyBytes = { received: 0, sent: 0 };

  constructor(
    readonly connection: EngineServerConnection,
    readonly headRequest: boolean,
    readonly versionMinor: number,
    readonly requestKeepAlive: boolean,
  ) {}

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
    return 0;
  }
  /** The engine connection id, for pipes. */
  get nativeId(): number {
    return this.connection.id;
  }

  ioIdleMs(): number {
    return this.connection.engine.bindings.connIdleMs(this.connection.id);
  }

  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    this.writeHead(head, contentLength, endStream, -1);
  }

  encodeHeadersPipedFrom(head: ResponseHead, contentLength: number, source: RequestEncoder): boolean {
    if (!(source instanceof EngineClientConnection) || source.engine !== this.connection.engine) return false;
    if (!this.writeHead(head, contentLength, false, source.id)) return false;
    this.responsePiped = true;
    source.pipeSink = this;
    return true;
  }

  canWriteProxiedHeadFrom(source: RequestEncoder): boolean {
    return (
      !this.detached &&
      !this.responseStarted &&
      source instanceof EngineClientConnection &&
      source.engine === this.connection.engine
    );
  }

  writeProxiedHeadFrom(
    plan: ProxiedResponsePlan,
    serviceMs: number,
    endStream: boolean,
    source: RequestEncoder,
  ): void {
    const connection = this.connection;
    const engine = connection.engine;
    const upstream = source as EngineClientConnection;
    this.responseStarted = true;
    const flags =
      (this.requestKeepAlive ? ProxiedHead.KEEP_ALIVE : 0) |
      (this.versionMinor === 1 ? ProxiedHead.HTTP11 : 0) |
      (connection.draining ? ProxiedHead.DRAINING : 0) |
      (endStream ? ProxiedHead.END_STREAM : 0);
    const result = engine.bindings.serverWriteProxiedHead(
      connection.id,
      upstream.id,
      engine.responsePlanId(plan),
      serviceMs,
      flags,
    );
    if (result < 0) {
      // Out of memory in the engine: nothing went out, and nothing sensible can now.
      connection.close();
      return;
    }
    this.framing = (result & 3) as BodyFraming;
    this.closeAfterResponse = (result & PROXIED_HEAD_CLOSES) !== 0;
    if (endStream) {
      this.ended();
      return;
    }
    this.responsePiped = true;
    upstream.pipeSink = this;
  }

  /** Writes the head; false when the stream can no longer answer. */
  private writeHead(
    head: ResponseHead,
    contentLength: number,
    endStream: boolean,
    pipeFrom: number,
  ): boolean {
    if (this.detached || this.responseStarted) return false;
    this.responseStarted = true;
    const connection = this.connection;
    const w = headWriter().nameFieldsOf(connection.engine.exchange);
    writeResponseHead(w, this, head, contentLength, endStream, connection.draining);
    connection.engine.bindings.serverWriteHead(
      connection.id,
      w.bytes,
      w.length,
      this.framing,
      endStream,
      this.closeAfterResponse,
      head.status,
      pipeFrom,
    );
    if (endStream) this.ended();
    return true;
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.detached || !this.responseStarted || this.responseComplete) return;
    if (this.responsePiped) {
      // The body (and its end) went out natively; this is the end reaching JS.
      if (endStream) this.ended();
      return;
    }
    this.connection.engine.bindings.serverWriteData(this.connection.id, data, endStream);
    if (endStream) this.ended();
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.detached || !this.responseStarted || this.responseComplete) return;
    const text = this.framing === BodyFraming.CHUNKED ? lastChunkWithTrailers(trailers) : '';
    this.connection.engine.bindings.serverWriteText(this.connection.id, text, true);
    this.ended();
  }

  encode100Continue(): void {
    if (this.detached || this.responseStarted) return;
    this.connection.engine.bindings.serverWriteText(this.connection.id, CONTINUE_100, false);
  }

  resetStream(_reason: StreamResetReason): void {
    if (this.detached) return;
    this.detached = true;
    this.connection.streamReset(this);
  }

  readDisable(disable: boolean): void {
    if (!this.detached) this.connection.engine.bindings.connReadDisable(this.connection.id, disable);
  }

  private ended(): void {
    this.responseComplete = true;
    this.connection.responseComplete(this);
  }
}

export class EngineServerConnection implements ServerConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  callbacks!: ServerConnectionCallbacks;
  private stream: EngineServerStream | null = null;
  draining = false;
  private closed = false;
  /** We closed it (close()): an exchange in flight is reset as a connection termination. */
  private closedLocally = false;
  /** The listener's count of open connections. */
  onClosedHook: (() => void) | null = null;

  constructor(
    readonly engine: NativeEngine,
    readonly id: number,
  ) {
    const addresses = engine.exchange.addresses();
    this.remoteAddress = addresses.remoteAddress;
    this.remotePort = addresses.remotePort;
    this.localAddress = addresses.localAddress;
    this.localPort = addresses.localPort;
    engine.servers[id] = this;
  }

  /**
   * Continues the connection on a Node socket with another codec (`reason`: the engine found the
   * HTTP/2 preface, or a request asking for an upgrade): the owner swaps codecs, the connection
   * stays the same one.
   */
  private continueOnSocket: ((socket: net.Socket, reason: HandOffReason) => void) | null = null;

  /**
   * The connection manager takes the connection: from now on it hears of its requests, and
   * `continueOnSocket` serves it if the engine hands it back.
   */
  attach(
    callbacks: ServerConnectionCallbacks,
    continueOnSocket: (socket: net.Socket, reason: HandOffReason) => void,
  ): this {
    this.callbacks = callbacks;
    this.continueOnSocket = continueOnSocket;
    return this;
  }

  get activeStreams(): number {
    return this.stream === null ? 0 : 1;
  }

  shutdownNotice(): void {
    this.draining = true;
  }

  goAway(): void {
    if (!this.closed) this.engine.bindings.serverGoAway(this.id);
  }

  replyToPartialRequest(status: number, body: string): boolean {
    if (this.closed) return false;
    return this.engine.bindings.serverReplyPartial(this.id, serializeLocalReply(status, body, true));
  }

  close(): void {
    if (this.closed) return;
    this.closedLocally = true;
    this.engine.bindings.connClose(this.id);
  }

  onEngineEvent(type: number, a: number, b: number): void {
    switch (type) {
      case EngineEvent.REQUEST_BEGIN:
        this.callbacks.onRequestBegin?.();
        return;
      case EngineEvent.REQUEST_HEAD:
        this.onRequestHead(a === 1);
        return;
      case EngineEvent.REQUEST_DATA:
        this.onRequestData(a, b === 1);
        return;
      case EngineEvent.REQUEST_TRAILERS: {
        const stream = this.stream;
        if (stream === null || stream.detached) return;
        if (stream.requestPiped) stream.nativeBodyBytes.received = this.engine.exchange.pipedBytes;
        stream.decoder!.decodeTrailers(this.engine.exchange.trailers());
        return;
      }
      case EngineEvent.REQUEST_RESET:
        this.resetActiveStream(resetReasonName(a));
        return;
      case EngineEvent.PROTOCOL_ERROR:
        this.callbacks.onProtocolError?.(a, a === 0 ? 0 : localReplyBody(a).length);
        return;
      case EngineEvent.DOWNSTREAM_WATERMARK:
        this.onWatermark(a === 1);
        return;
    }
  }

  private onRequestHead(endStream: boolean): void {
    const head = this.engine.exchange.requestHead();
    if (this.draining) head.keepAlive = false;
    const stream = new EngineServerStream(
      this,
      head.method === 'HEAD',
      head.protocol === 'HTTP/1.0' ? 0 : 1,
      head.keepAlive,
    );
    this.stream = stream;
    const decoder = this.callbacks.newStream(stream);
    stream.decoder = decoder;
    decoder.decodeHeaders(head, endStream);
  }

  private onRequestData(length: number, endStream: boolean): void {
    const stream = this.stream;
    if (stream === null || stream.detached) return;
    if (stream.requestPiped) {
      // Only the end of a piped body reaches JS.
      stream.nativeBodyBytes.received = this.engine.exchange.pipedBytes;
      stream.decoder!.decodeData(EMPTY, endStream);
      return;
    }
    stream.decoder!.decodeData(length === 0 ? EMPTY : this.engine.exchange.body(length), endStream);
  }

  private onWatermark(above: boolean): void {
    const stream = this.stream;
    if (stream === null || stream.aboveWriteWatermark === above) return;
    stream.aboveWriteWatermark = above;
    if (above) stream.decoder!.onAboveWriteBufferHighWatermark();
    else stream.decoder!.onBelowWriteBufferLowWatermark();
  }

  /** The engine closed the socket (after we asked, or the peer went away). */
  onClosed(reason: number): void {
    this.closed = true;
    if (this.stream !== null) {
      this.resetActiveStream(this.closedLocally ? 'connection_termination' : resetReasonName(reason || 2));
    }
    this.callbacks.onConnectionClose();
    this.onClosedHook?.();
  }

  /**
   * The engine gave the connection up (`reason`: it opened with the HTTP/2 preface, or its next
   * request asks for an upgrade, which the engine does not tunnel): its fd is ours now, and `read`
   * the bytes the engine had read from it that no one has answered (for an upgrade, its request as
   * parsed, then what followed). The listener still counts the connection until this socket closes.
   */
  onHandedOff(fd: number, read: Buffer, reason: HandOffReason): void {
    this.closed = true;
    const socket = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: false });
    socket.once('close', () => this.onClosedHook?.());
    // The codec reads what is buffered first (the HTTP/2 session takes it, then reads the handle).
    socket.pause();
    socket.unshift(read);
    this.continueOnSocket!(socket, reason);
  }

  // ---- called by EngineServerStream

  responseComplete(stream: EngineServerStream): void {
    stream.detached = true;
    if (this.stream === stream) this.stream = null;
  }

  streamReset(stream: EngineServerStream): void {
    if (this.stream === stream) this.stream = null;
    this.close();
  }

  /** The request body is moving natively to `encoder`'s upstream connection. */
  requestPipedTo(stream: EngineServerStream): void {
    stream.requestPiped = true;
  }

  private resetActiveStream(reason: StreamResetReason): void {
    const stream = this.stream;
    if (stream === null) return;
    this.stream = null;
    stream.detached = true;
    if (stream.responseComplete) return;
    stream.decoder!.onResetStream(reason);
  }
}

export type { EngineServerStream };
