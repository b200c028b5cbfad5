/**
 * Legate's downstream HTTP/1.0 + 1.1 codec over any `net.Socket`, parsing with llhttp wasm.
 *
 * One request at a time: when a request is complete but its response is not, the parser pauses and
 * the socket stops reading; the unparsed rest of the chunk (pipelined requests) is kept and parsed
 * once the response is done, so responses go out in order.
 *
 * Requests are checked before the owner sees them (`newStream` is called at headers-complete, only
 * for requests that pass): anything that could be smuggled or mis-framed gets a local reply with
 * `connection: close`, the owner is told (`onProtocolError`), and the connection ends. A head still
 * arriving can be answered the same way on the owner's behalf (`replyToPartialRequest`, for its
 * timeouts).
 *
 * A request that switches protocols (`switchesProtocols`: 101 to an upgrade, 2xx to CONNECT) turns
 * the connection into a tunnel: from its response head on, the parser is done with, bytes read go
 * to the stream as request data and response data is written as it comes, each direction ending
 * with its own FIN (half-close) and the stream ending when both did.
 *
 * Socket operations per request are kept minimal: each `data` event is parsed inside one
 * cork/uncork, so synchronous answers (and pipelined ones) leave in one `writev`; a head whose body
 * follows later stays corked until the end of the tick so the first body chunk joins it.
 */
import type * as net from 'node:net';
import {
  isUpgradeRequest,
  switchesProtocols,
  tunnelMayFollow,
  type RequestDecoder,
  type RequestHead,
  type ResponseEncoder,
  type ResponseHead,
  type ServerConnection,
  type ServerConnectionCallbacks,
  type SplicedTunnel,
  type StreamResetReason,
  type TunnelSide,
} from './codec';
import { HeaderMap } from './header-map';
import { transferEncodingStatus } from './transfer-encoding';
import {
  HeadersCompleteResult,
  HttpParser,
  ParserError,
  ParserType,
  whenParserIdle,
  type ParserHandler,
} from './llhttp';
import { latin1Slice } from './latin1';
import { localReplyBody, serializeLocalReply } from './local-reply';
import { BodyFraming, serializeResponseHead } from './h1-heads';
import { LAST_CHUNK, chunkHeader, lastChunkWithTrailers } from './h1-serialize';
import { socketReadyToSplice } from './tunnel-splice';

export interface ServerCodecOptions {
  /** Request line + headers may not exceed this (431). Envoy's `max_request_headers_kb`. */
  maxRequestHeadersKb: number;
  /** More header fields than this → 431. Envoy's `max_headers_count`. */
  maxRequestHeadersCount: number;
  headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  /** False → HTTP/1.0 requests get 426 (Envoy's default). */
  acceptHttp10: boolean;
  /** Larger request bodies → 413 (before the owner sees the request when Content-Length says so). 0 = unlimited. */
  maxRequestBodyBytes: number;
}

export const DEFAULT_SERVER_CODEC_OPTIONS: Readonly<ServerCodecOptions> = {
  maxRequestHeadersKb: 60,
  maxRequestHeadersCount: 100,
  headersWithUnderscoresAction: 'ALLOW',
  acceptHttp10: false,
  maxRequestBodyBytes: 0,
};

/** How long a connection we closed waits for the peer's FIN before it is destroyed (Envoy's delayed_close_timeout). */
const DELAYED_CLOSE_MS = 1000;
const EMPTY = Buffer.alloc(0);
const CONTINUE_100 = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Bodies up to this size are joined to the held head (or chunk framing) in one string: one plain
 * `write` is cheaper than a `writev` of several pieces; larger bodies are written by reference.
 */
const JOIN_BODY_MAX_BYTES = 1024;

function flushHeldHeadAtEndOfTick(connection: Http1ServerConnection): void {
  connection.flushHeldHead();
}

/** One request/response exchange; its methods are the `ResponseEncoder` handed to the owner. */
class ServerStream implements ResponseEncoder {
  readonly connection: Http1ServerConnection;
  decoder: RequestDecoder | null = null;
  readonly headRequest: boolean;
  readonly versionMinor: number;
  readonly requestKeepAlive: boolean;
  readonly connectRequest: boolean;
  /** The request asked to switch protocols; with `tunnel`, it did. */
  readonly request: RequestHead;
  tunnel = false;
  requestComplete = false;
  responseStarted = false;
  responseComplete = false;
  /** Set once the stream ended or was reset: later calls from a stale owner do nothing. */
  detached = false;
  closeAfterResponse = false;
  framing = BodyFraming.NONE;
  status = 0;
  aboveWriteWatermark = false;
  /**
   * The owner's read disables (reference-counted). They belong to this stream: once it ends they
   * no longer hold the connection, so a pause its owner never undid cannot stall the next request.
   */
  readDisableCount = 0;
  /** A head waiting for the first body chunk, to leave in the same write (at the end of the tick at the latest). */
  heldHead = '';

  constructor(connection: Http1ServerConnection, head: RequestHead) {
    this.connection = connection;
    this.headRequest = head.method === 'HEAD';
    this.versionMinor = head.protocol === 'HTTP/1.0' ? 0 : 1;
    this.requestKeepAlive = head.keepAlive;
    this.connectRequest = head.method === 'CONNECT';
    this.request = head;
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
    return this.connection.socket.writableLength;
  }

  tunnelSide(): TunnelSide | null {
    return this.connection.tunnelSideOf(this);
  }

  /** A spliced tunnel's bytes, which moved without JS. */
  get nativeBodyBytes(): { received: number; sent: number } | undefined {
    const spliced = this.connection.splicedTunnel;
    return spliced === null ? undefined : { received: spliced.toUpstream, sent: spliced.toDownstream };
  }

  ioIdleMs(): number {
    return this.connection.splicedTunnel?.idleMs() ?? -1;
  }

  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    if (this.detached || this.responseStarted) return;
    this.responseStarted = true;
    this.status = head.status;
    const connection = this.connection;
    const text = serializeResponseHead(this, head, contentLength, endStream, connection.draining);
    const noBody = this.framing === BodyFraming.NONE;
    if (!endStream && switchesProtocols(this.request, head.status)) {
      this.tunnel = true;
      this.write(text);
      connection.startTunnel(this);
    } else if (endStream || noBody) {
      this.write(text);
      if (endStream) this.endResponse();
    } else {
      this.heldHead = text;
      connection.flushHeadAtEndOfTick(this);
    }
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.detached || !this.responseStarted || this.responseComplete) return;
    const head = this.heldHead;
    this.heldHead = '';
    if (this.tunnel) {
      if (data.length > 0) this.write(data);
    } else if (this.framing === BodyFraming.CHUNKED) {
      if (data.length > 0)
        this.writeFramed(head + chunkHeader(data.length), data, endStream ? '\r\n' + LAST_CHUNK : '\r\n');
      else if (endStream) this.write(head + LAST_CHUNK);
      else if (head !== '') this.write(head);
    } else if (data.length > 0 && this.framing !== BodyFraming.NONE) {
      this.writeFramed(head, data, '');
    } else if (head !== '') {
      this.write(head);
    }
    if (endStream) this.endResponse();
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.detached || !this.responseStarted || this.responseComplete) return;
    const text =
      this.heldHead + (this.framing === BodyFraming.CHUNKED ? lastChunkWithTrailers(trailers) : '');
    this.heldHead = '';
    if (text !== '') this.write(text);
    this.endResponse();
  }

  /** Writes a head that no body chunk came to join. */
  flushHeldHead(): void {
    const head = this.heldHead;
    this.heldHead = '';
    if (head !== '' && !this.detached) this.write(head);
  }

  encode100Continue(): void {
    if (this.detached || this.responseStarted) return;
    this.write(CONTINUE_100);
  }

  resetStream(_reason: StreamResetReason): void {
    if (this.detached) return;
    this.detached = true;
    this.connection.streamReset(this);
  }

  readDisable(disable: boolean): void {
    if (this.detached) return;
    if (disable) this.readDisableCount++;
    else if (this.readDisableCount > 0) this.readDisableCount--;
    this.connection.updateReading();
  }

  /** `prefix` + `data` + `suffix` in one write for small bodies, one corked writev otherwise. */
  private writeFramed(prefix: string, data: Buffer, suffix: string): void {
    if (data.length <= JOIN_BODY_MAX_BYTES) {
      this.write(prefix + latin1Slice(data, 0, data.length) + suffix);
      return;
    }
    const socket = this.connection.socket;
    socket.cork();
    if (prefix !== '') this.write(prefix);
    this.write(data);
    if (suffix !== '') this.write(suffix);
    socket.uncork();
  }

  private write(chunk: string | Buffer): void {
    const connection = this.connection;
    const flushed =
      typeof chunk === 'string' ? connection.socket.write(chunk, 'latin1') : connection.socket.write(chunk);
    if (!flushed && !this.aboveWriteWatermark) {
      this.aboveWriteWatermark = true;
      connection.watchDrain();
      this.decoder!.onAboveWriteBufferHighWatermark();
    }
  }

  private endResponse(): void {
    this.responseComplete = true;
    this.connection.responseComplete(this);
  }
}

class Http1ServerConnection implements ServerConnection, ParserHandler, TunnelSide {
  readonly socket: net.Socket;
  // Addresses are read once: each socket getter is a call into the native handle.
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private readonly callbacks: ServerConnectionCallbacks;
  private readonly options: ServerCodecOptions;
  private readonly parser: HttpParser;
  private stream: ServerStream | null = null;
  /** Unparsed bytes kept while the parser waits for the current response (pipelining). */
  private pending: Buffer = EMPTY;
  private waitingForResponse = false;
  private readingPaused = false;
  /** The stream whose head waits for its first body chunk until the end of the tick. */
  private heldHeadStream: ServerStream | null = null;
  /** shutdownNotice(): responses from now on carry `connection: close`. */
  draining = false;
  /** goAway(): close as soon as no exchange is in flight. */
  private goingAway = false;
  /** We sent FIN (or are about to): further input is read and discarded. */
  private ending = false;
  private closed = false;
  /** The owner called close(): an exchange in flight is reset as a connection termination. */
  private closedLocally = false;
  private closeTimer: NodeJS.Timeout | null = null;
  /** A request's first bytes arrived and its head is not complete yet (it has no stream). */
  private headPending = false;
  /** Status of the last response, to refuse a tunnel after 101 and to resume after a refused upgrade. */
  private lastResponseStatus = 0;
  /** The stream whose exchange switched protocols: the connection's bytes are its own from now on. */
  private tunnel: ServerStream | null = null;
  /** The native relay that took the tunnel's socket (it reads and half-closes it, not this codec). */
  splicedTunnel: SplicedTunnel | null = null;
  // Per-request parse state (reset in onMessageBegin).
  private headers = new HeaderMap();
  private trailers: HeaderMap | null = null;
  private rejectStatus = 0;
  private headerCount = 0;
  private contentLength = -1;
  private transferEncoding: string | null = null;
  private bodyBytes = 0;

  constructor(socket: net.Socket, callbacks: ServerConnectionCallbacks, options: ServerCodecOptions) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.callbacks = callbacks;
    this.options = options;
    this.parser = new HttpParser(ParserType.REQUEST, this, options.maxRequestHeadersKb * 1024);
    this.onData = this.onData.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.onClose = this.onClose.bind(this);
    this.onDrain = this.onDrain.bind(this);
    this.continueParsing = this.continueParsing.bind(this);
    this.destroySocket = this.destroySocket.bind(this);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    // Errors (ECONNRESET, EPIPE) are followed by 'close', where the stream is reset.
    socket.on('error', ignoreError);
  }

  get activeStreams(): number {
    return this.stream === null ? 0 : 1;
  }

  shutdownNotice(): void {
    this.draining = true;
  }

  goAway(): void {
    this.goingAway = true;
    if (this.stream === null) this.endConnection();
  }

  close(): void {
    this.closedLocally = true;
    this.destroySocket();
  }

  replyToPartialRequest(status: number, body: string): boolean {
    if (!this.headPending || this.ending || this.closed) return false;
    this.headPending = false;
    this.socket.write(serializeLocalReply(status, body, true), 'latin1');
    this.endConnection();
    return true;
  }

  // ---- socket events

  private onData(chunk: Buffer): void {
    const tunnel = this.tunnel;
    if (tunnel !== null) {
      if (!tunnel.detached) tunnel.decoder!.decodeData(chunk, false);
      return;
    }
    if (this.ending) return;
    if (this.waitingForResponse) {
      // Only if a read was already under way when reading paused: keep it behind the rest.
      this.pending = Buffer.concat([this.pending, chunk]);
      return;
    }
    const socket = this.socket;
    socket.cork();
    this.parse(chunk);
    socket.uncork();
  }

  /** The peer half-closed: an exchange still in flight cannot be answered reliably, so it is reset. */
  private onEnd(): void {
    const tunnel = this.tunnel;
    if (tunnel !== null) {
      this.endTunnelRequest(tunnel);
      return;
    }
    if (this.stream !== null) this.resetActiveStream('remote_reset');
    this.destroySocket();
  }

  private onClose(): void {
    this.closed = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    if (this.stream !== null)
      this.resetActiveStream(this.closedLocally ? 'connection_termination' : 'remote_reset');
    this.parser.destroy();
    this.callbacks.onConnectionClose();
  }

  private onDrain(): void {
    const stream = this.stream;
    if (stream !== null && stream.aboveWriteWatermark) {
      stream.aboveWriteWatermark = false;
      stream.decoder!.onBelowWriteBufferLowWatermark();
    }
  }

  // ---- parsing

  private parse(data: Buffer): void {
    const parser = this.parser;
    while (true) {
      const ret = parser.execute(data);
      if (ret === ParserError.OK) return;
      if (this.ending || this.closed) return;
      const rest = data.subarray(parser.stopOffset);
      if (ret === ParserError.PAUSED_UPGRADE && this.stream === null && this.lastResponseStatus !== 101) {
        // The upgrade was refused with an ordinary response: what follows is HTTP again.
        parser.resumeAfterUpgrade();
        data = rest;
        continue;
      }
      if (ret === ParserError.PAUSED || ret === ParserError.PAUSED_UPGRADE) {
        this.pending = rest;
        this.waitingForResponse = true;
        this.updateReading();
        return;
      }
      this.rejectMalformed(ret);
      return;
    }
  }

  /** The response that held the parser is done: parse what was kept, then read again. */
  private continueParsing(): void {
    if (!this.waitingForResponse || this.closed || this.ending) return;
    this.waitingForResponse = false;
    const data = this.pending;
    this.pending = EMPTY;
    this.parser.resume();
    this.parse(data);
    this.updateReading();
  }

  onMessageBegin(): number {
    if (this.ending) return ParserError.USER;
    this.headers = new HeaderMap();
    this.trailers = null;
    this.rejectStatus = 0;
    this.headerCount = 0;
    this.contentLength = -1;
    this.transferEncoding = null;
    this.bodyBytes = 0;
    this.headPending = true;
    this.callbacks.onRequestBegin?.();
    return 0;
  }

  onHeader(name: string, value: string): number {
    if (++this.headerCount > this.options.maxRequestHeadersCount) return this.reject(431);
    if (this.options.headersWithUnderscoresAction !== 'ALLOW' && name.includes('_')) {
      if (this.options.headersWithUnderscoresAction === 'REJECT_REQUEST') return this.reject(400);
      return 0;
    }
    if (name === 'content-length') {
      // llhttp has checked the digits and rejected a second Content-Length.
      this.contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      this.transferEncoding = this.transferEncoding === null ? value : this.transferEncoding + ',' + value;
    }
    this.headers.add(name, value);
    return 0;
  }

  onHeadersComplete(parser: HttpParser): number {
    this.headPending = false;
    const versionMinor = parser.versionMinor;
    if (parser.versionMajor !== 1 || versionMinor > 1) return this.reject(505);
    if (versionMinor === 0 && !this.options.acceptHttp10) return this.reject(426);
    const chunked = this.transferEncoding !== null;
    if (chunked) {
      if (versionMinor === 0 || this.contentLength >= 0) return this.reject(400);
      const status = transferEncodingStatus(this.transferEncoding!);
      if (status !== 0) return this.reject(status);
    }
    // llhttp takes lengths up to 2^64-1; past 2^53-1 a number is inexact, and the length forwarded
    // upstream would differ from the one this side frames by (nginx refuses past 2^63-1 with 400).
    if (!Number.isSafeInteger(this.contentLength)) return this.reject(400);
    const maxBody = this.options.maxRequestBodyBytes;
    if (maxBody > 0 && this.contentLength > maxBody) return this.reject(413);
    const upgrade = isUpgradeRequest(parser.upgrade, this.headers);

    const head: RequestHead = {
      method: parser.method,
      path: parser.url,
      protocol: versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
      headers: this.headers,
      keepAlive: parser.keepAlive && !this.draining,
      contentLength: this.contentLength,
      chunked,
      upgrade,
    };
    const stream = new ServerStream(this, head);
    this.stream = stream;
    const decoder = this.callbacks.newStream(stream);
    stream.decoder = decoder;
    const endStream = !chunked && this.contentLength <= 0 && !upgrade;
    stream.requestComplete = endStream;
    decoder.decodeHeaders(head, endStream);
    return this.ending || this.closed ? ParserError.USER : HeadersCompleteResult.CONTINUE;
  }

  onBody(data: Buffer): number {
    const stream = this.stream;
    if (stream === null) return ParserError.USER;
    this.bodyBytes += data.length;
    const maxBody = this.options.maxRequestBodyBytes;
    if (maxBody > 0 && this.bodyBytes > maxBody) return this.reject(413);
    const endStream = this.bodyBytes === this.contentLength;
    stream.requestComplete = endStream;
    stream.decoder!.decodeData(data, endStream);
    return this.ending || this.closed ? ParserError.USER : 0;
  }

  onTrailer(name: string, value: string): number {
    if (this.trailers === null) this.trailers = new HeaderMap();
    this.trailers.add(name, value);
    return 0;
  }

  onMessageComplete(): number {
    let stream = this.stream;
    // A bodiless upgrade request's stream goes on as a tunnel, or ends with its response.
    if (stream !== null && !stream.requestComplete && !tunnelMayFollow(stream.request)) {
      stream.requestComplete = true;
      if (this.trailers !== null) stream.decoder!.decodeTrailers(this.trailers);
      else stream.decoder!.decodeData(EMPTY, true);
      if (this.ending || this.closed) return ParserError.USER;
      stream = this.stream;
    }
    // Wait for the response before parsing the next request.
    return stream !== null ? ParserError.PAUSED : 0;
  }

  // ---- called by ServerStream

  flushHeadAtEndOfTick(stream: ServerStream): void {
    if (this.heldHeadStream === null) process.nextTick(flushHeldHeadAtEndOfTick, this);
    this.heldHeadStream = stream;
  }

  flushHeldHead(): void {
    const stream = this.heldHeadStream;
    this.heldHeadStream = null;
    if (stream !== null) stream.flushHeldHead();
  }

  watchDrain(): void {
    this.socket.once('drain', this.onDrain);
  }

  responseComplete(stream: ServerStream): void {
    this.lastResponseStatus = stream.status;
    if (stream.tunnel) {
      // Our half of the tunnel is done (FIN); the client's may still be sending. Once both
      // ended, the socket closes by itself when its last bytes are out.
      if (this.splicedTunnel === null) this.socket.end();
      if (stream.requestComplete) this.finishTunnel(stream);
      return;
    }
    // A bodiless upgrade refused with an ordinary response: its request is complete.
    if (!stream.requestComplete && tunnelMayFollow(stream.request)) {
      stream.requestComplete = true;
      stream.decoder!.decodeData(EMPTY, true);
    }
    // A response that ends before its request leaves unread body bytes: the connection cannot be
    // reused. A keep-alive response whose head left before draining began leaves the connection
    // open: the client may already be sending its next request (goAway() closes it).
    if (stream.closeAfterResponse || !stream.requestComplete || this.goingAway) {
      this.finishStream(stream);
      this.endConnection();
      return;
    }
    this.finishStream(stream);
    // The response may complete inside the upstream parser's callback: parse the next request
    // only once no parser of this thread is running.
    if (this.waitingForResponse) whenParserIdle(this.continueParsing);
  }

  streamReset(stream: ServerStream): void {
    this.finishStream(stream);
    this.destroySocket();
  }

  /**
   * `stream`'s response switched protocols: the bytes after its head (kept while the parser waited)
   * and every byte read from now on are its request data; the peer's FIN ends that direction only.
   */
  startTunnel(stream: ServerStream): void {
    this.tunnel = stream;
    this.socket.allowHalfOpen = true;
    this.waitingForResponse = false;
    const early = this.pending;
    this.pending = EMPTY;
    // Delivered on the next tick, not inside the owner's encodeHeaders; before any later read.
    if (early.length > 0) process.nextTick(deliverEarlyTunnelBytes, stream, early);
    this.updateReading();
  }

  /** The client half-closed the tunnel: the stream ends once our half is done too. */
  private endTunnelRequest(stream: ServerStream): void {
    if (stream.detached || stream.requestComplete) return;
    stream.requestComplete = true;
    stream.decoder!.decodeData(EMPTY, true);
    if (stream.responseComplete) this.finishTunnel(stream);
  }

  /** Both halves of the tunnel ended: a spliced one's socket is closed here (the relay sent the FINs). */
  private finishTunnel(stream: ServerStream): void {
    this.finishStream(stream);
    if (this.splicedTunnel !== null) this.destroySocket();
  }

  // ---- TunnelSide (http/tunnel-splice.ts)

  tunnelSideOf(stream: ServerStream): TunnelSide | null {
    return this.tunnel === stream && !stream.detached ? this : null;
  }

  tunnelSocket(): net.Socket | null {
    const stream = this.tunnel;
    const open =
      stream !== null &&
      !stream.detached &&
      !stream.requestComplete &&
      !stream.responseComplete &&
      !this.ending &&
      !this.closed;
    return open ? this.socket : null;
  }

  readyToSplice(): boolean {
    return this.splicedTunnel === null && !this.readingPaused && socketReadyToSplice(this.socket);
  }

  setSplicedTunnel(tunnel: SplicedTunnel | null): void {
    this.splicedTunnel = tunnel;
    if (tunnel !== null) return;
    // The relay stopped the socket's reads: read again unless the stream's owner paused them since.
    this.readingPaused = true;
    this.updateReading();
  }

  endSplicedTunnel(): void {
    if (this.tunnel !== null) this.endTunnelRequest(this.tunnel);
  }

  resetSplicedTunnel(): void {
    this.destroySocket();
  }

  // ---- internals

  private finishStream(stream: ServerStream): void {
    stream.detached = true;
    if (this.stream === stream) this.stream = null;
    if (!this.closed) this.updateReading();
  }

  private resetActiveStream(reason: StreamResetReason): void {
    const stream = this.stream!;
    this.finishStream(stream);
    // A tunnel's response may be complete while its request half is still open.
    if (stream.responseComplete && !stream.tunnel) return;
    stream.decoder!.onResetStream(reason);
  }

  /** Records why the request is refused; the parser stops and `rejectMalformed` answers. */
  private reject(status: number): number {
    this.rejectStatus = status;
    return ParserError.USER;
  }

  /** Answers a request that failed parsing or validation, tells the owner, then closes. */
  private rejectMalformed(errorCode: number): void {
    const status = this.rejectStatus !== 0 ? this.rejectStatus : this.statusForParseError(errorCode);
    this.headPending = false;
    const stream = this.stream;
    // Once the owner's response started, nothing more can be said on this connection.
    const mayReply = stream === null || !stream.responseStarted;
    const body = localReplyBody(status);
    this.callbacks.onProtocolError?.(mayReply ? status : 0, mayReply ? body.length : 0);
    if (this.closed) return;
    // The owner saw the headers (the error is in the body): it loses the stream.
    if (stream !== null) this.resetActiveStream(status === 413 ? 'overflow' : 'protocol_error');
    if (mayReply) this.socket.write(serializeLocalReply(status, body, true), 'latin1');
    this.endConnection();
  }

  private statusForParseError(errorCode: number): number {
    if (errorCode === ParserError.HEAD_TOO_LARGE) return 431;
    if (errorCode === ParserError.INVALID_VERSION) {
      const major = this.parser.versionMajor;
      const minor = this.parser.versionMinor;
      if (major !== 1 || minor > 1) return 505;
    }
    return 400;
  }

  /** Reads unless a response is awaited (pipelining) or the current stream's owner disabled reading. */
  updateReading(): void {
    if (this.splicedTunnel !== null) return; // the relay reads the socket
    const stream = this.stream;
    const pause =
      !this.ending && (this.waitingForResponse || (stream !== null && stream.readDisableCount > 0));
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /**
   * Sends FIN after what is queued, keeps reading (and discarding) so a client still sending does
   * not get an RST that would destroy our reply, and destroys the socket after a grace period.
   */
  private endConnection(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    this.updateReading();
    this.socket.end();
    this.closeTimer = setTimeout(this.destroySocket, DELAYED_CLOSE_MS);
    this.closeTimer.unref();
  }

  private destroySocket(): void {
    // The relay holds duplicates of the fd: the connection closes only once they are closed too.
    this.splicedTunnel?.stop();
    if (!this.closed) this.socket.destroy();
  }
}

function ignoreError(): void {}

function deliverEarlyTunnelBytes(stream: ServerStream, bytes: Buffer): void {
  if (!stream.detached) stream.decoder!.decodeData(bytes, false);
}

/** Wraps `socket` (accepted, or made with `new net.Socket({ fd })`) in an HTTP/1 server codec. */
export function createServerConnection(
  socket: net.Socket,
  callbacks: ServerConnectionCallbacks,
  options: ServerCodecOptions,
): ServerConnection {
  return new Http1ServerConnection(socket, callbacks, options);
}
