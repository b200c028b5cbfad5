/**
 * Legate's upstream HTTP/1.1 codec: one request at a time on a `net.Socket`, response parsed with the
 * same llhttp wrapper as the server side.
 *
 * The request head is one latin1 string; when the first body chunk is encoded in the same tick the
 * socket stays corked, so head and body leave in one `writev`. Response body chunks are delivered
 * as views of the chunk just read: the receiver writes them downstream (or copies them) during the
 * call and must not keep the view.
 *
 * The connection itself is the `RequestEncoder` of its current stream (no object per request);
 * encoder calls made while no stream is active are ignored.
 *
 * A request that switches protocols (101 to an upgrade, 2xx to CONNECT: `switchesProtocols`) makes
 * the connection a tunnel for that stream: response bytes after the head are response data as they
 * come, request data is written as it is, each direction ends with its own FIN, and the stream
 * completes, never reusable, once both did. A 101 to anything else, or without `Upgrade`, is a
 * protocol error.
 *
 * Flow-control state (read disables, the write watermark) belongs to the stream: it is dropped when
 * the stream completes, so a connection goes back to its pool exactly as a fresh one would be —
 * reading, no unparsed bytes, nothing queued for write (see `reusable`). An owner that paused the
 * response and then saw it complete (the last bytes were already in the chunk being parsed) never
 * gets to undo its pause; without this, the next request on the pooled connection would wait for a
 * response the paused socket never reads.
 */
import type * as net from 'node:net';
import {
  switchesProtocols,
  type ClientConnection,
  type ClientConnectionCallbacks,
  type RequestEncoder,
  type RequestHead,
  type ResponseDecoder,
  type ResponseHead,
  type SplicedTunnel,
  type StreamResetReason,
  type TunnelSide,
} from './codec';
import { HeaderMap } from './header-map';
import { transferEncodingStatus } from './transfer-encoding';
import { HeadersCompleteResult, HttpParser, ParserError, ParserType, type ParserHandler } from './llhttp';
import { LAST_CHUNK, chunkHeader, isValidRequestTarget, lastChunkWithTrailers } from './h1-serialize';
import { BodyFraming, serializeRequestHead, type RequestFramingState } from './h1-heads';
import { socketReadyToSplice } from './tunnel-splice';

/** Envoy's limit for HTTP/1 response heads (`max_response_headers_kb` default for HTTP/1 is 80). */
const MAX_RESPONSE_HEAD_BYTES = 80 * 1024;
const EMPTY = Buffer.alloc(0);

function uncorkAtEndOfTick(connection: Http1ClientConnection): void {
  connection.flushCork();
}

class Http1ClientConnection implements ClientConnection, RequestEncoder, ParserHandler, TunnelSide {
  private readonly socket: net.Socket;
  private readonly callbacks: ClientConnectionCallbacks;
  private readonly parser: HttpParser;
  private decoder: ResponseDecoder | null = null;
  busy = false;
  private closed = false;
  private corked = false;
  // Per-stream flow control, cleared when the stream ends (`endStreamFlowControl`).
  private readDisableCount = 0;
  /** socket.write() returned false for request bytes; cleared on 'drain'. */
  private aboveWriteWatermark = false;
  /** llhttp is inside a response (between message begin and complete). */
  private midResponse = false;
  // Per-stream state, reset by newStream().
  private requestChunked = false;
  private readonly framingState: RequestFramingState = { framing: BodyFraming.NONE, closeRequested: false };
  private requestComplete = false;
  private headRequest = false;
  /** The current request; its response may switch protocols. */
  private request: RequestHead | null = null;
  /** The response switched protocols: socket bytes are the stream's data both ways. */
  private tunnel = false;
  /** The native relay that took the tunnel's socket (it reads and half-closes it, not this codec). */
  private splicedTunnel: SplicedTunnel | null = null;
  /** Neither side asked for close and the framing allows another exchange on this connection. */
  private keepAlive = true;
  private responseStarted = false;
  /** The decoder got the response's end (endStream); the stream completes after llhttp's message-complete. */
  private responseComplete = false;
  // Per-response parse state, reset in onMessageBegin.
  private headers = new HeaderMap();
  private trailers: HeaderMap | null = null;
  private informational = false;
  private contentLength = -1;
  /** The response's Transfer-Encoding values, comma-joined (null: none). */
  private transferEncoding: string | null = null;
  private chunked = false;
  private bodyBytes = 0;

  constructor(socket: net.Socket, callbacks: ClientConnectionCallbacks) {
    this.socket = socket;
    this.callbacks = callbacks;
    this.parser = new HttpParser(ParserType.RESPONSE, this, MAX_RESPONSE_HEAD_BYTES);
    this.onData = this.onData.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.onClose = this.onClose.bind(this);
    this.onDrain = this.onDrain.bind(this);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    // Errors are followed by 'close', where an active stream is reset.
    socket.on('error', ignoreError);
  }

  newStream(decoder: ResponseDecoder): RequestEncoder {
    if (this.busy || this.closed) throw new Error('HTTP/1 client connection is busy or closed');
    this.busy = true;
    this.decoder = decoder;
    this.requestChunked = false;
    this.requestComplete = false;
    this.headRequest = false;
    this.request = null;
    this.tunnel = false;
    this.keepAlive = true;
    this.responseStarted = false;
    this.responseComplete = false;
    return this;
  }

  close(): void {
    // The relay holds duplicates of the fd: the connection closes only once they are closed too.
    this.splicedTunnel?.stop();
    if (!this.closed) this.socket.destroy();
  }

  get splicedBytesRead(): number {
    return this.splicedTunnel?.toDownstream ?? 0;
  }

  get splicedBytesWritten(): number {
    return this.splicedTunnel?.toUpstream ?? 0;
  }

  get reusable(): boolean {
    const socket = this.socket;
    return (
      !this.busy &&
      !this.closed &&
      !this.midResponse &&
      !this.corked &&
      this.readDisableCount === 0 &&
      !this.aboveWriteWatermark &&
      !socket.isPaused() &&
      socket.writableLength === 0
    );
  }

  // ---- RequestEncoder

  encodeHeaders(head: RequestHead, contentLength: number, endStream: boolean): void {
    if (!this.busy || this.responseComplete) return;
    if (!isValidRequestTarget(head.path)) {
      this.failStream('local_reset');
      return;
    }
    this.headRequest = head.method === 'HEAD';
    this.request = head;
    const text = serializeRequestHead(this.framingState, head, contentLength, endStream);
    this.requestChunked = this.framingState.framing === BodyFraming.CHUNKED;
    if (this.framingState.closeRequested) this.keepAlive = false;
    if (endStream) {
      this.socket.write(text, 'latin1');
      this.endRequest();
    } else {
      this.corkUntilEndOfTick();
      this.socket.write(text, 'latin1');
    }
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (!this.busy || this.requestComplete) return;
    const socket = this.socket;
    let flushed = true;
    if (this.requestChunked) {
      socket.cork();
      if (data.length > 0) {
        socket.write(chunkHeader(data.length), 'latin1');
        socket.write(data);
        flushed = socket.write(endStream ? '\r\n' + LAST_CHUNK : '\r\n', 'latin1');
      } else if (endStream) {
        flushed = socket.write(LAST_CHUNK, 'latin1');
      }
      socket.uncork();
    } else if (data.length > 0) {
      flushed = socket.write(data);
    }
    if (endStream) this.endRequest();
    else if (!flushed && !this.aboveWriteWatermark) {
      // Uploads faster than the upstream reads: tell the owner to pause the downstream.
      this.aboveWriteWatermark = true;
      socket.once('drain', this.onDrain);
      this.decoder?.onAboveWriteBufferHighWatermark();
    }
  }

  private onDrain(): void {
    if (!this.aboveWriteWatermark) return;
    this.aboveWriteWatermark = false;
    this.decoder?.onBelowWriteBufferLowWatermark();
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (!this.busy || this.requestComplete) return;
    if (this.requestChunked) this.socket.write(lastChunkWithTrailers(trailers), 'latin1');
    this.endRequest();
  }

  resetStream(_reason: StreamResetReason): void {
    if (!this.busy) return;
    // The owner gave up: the exchange is broken and the connection cannot be reused.
    this.busy = false;
    this.decoder = null;
    this.close();
  }

  readDisable(disable: boolean): void {
    if (!this.busy) return;
    this.readDisableCount += disable ? 1 : -1;
    if (this.readDisableCount < 0) this.readDisableCount = 0;
    if (this.splicedTunnel !== null) return; // the relay reads the socket
    if (this.readDisableCount > 0) this.socket.pause();
    else this.socket.resume();
  }

  // ---- ParserHandler

  onMessageBegin(): number {
    // Bytes from the server with no request outstanding (or after its response) break framing.
    if (!this.busy || this.responseComplete) return ParserError.USER;
    this.midResponse = true;
    this.headers = new HeaderMap();
    this.trailers = null;
    this.contentLength = -1;
    this.transferEncoding = null;
    this.chunked = false;
    this.bodyBytes = 0;
    return 0;
  }

  onHeader(name: string, value: string): number {
    if (name === 'content-length') this.contentLength = Number(value);
    else if (name === 'transfer-encoding') {
      this.transferEncoding = this.transferEncoding === null ? value : this.transferEncoding + ',' + value;
      this.chunked = true;
    }
    this.headers.add(name, value);
    return 0;
  }

  onHeadersComplete(parser: HttpParser): number {
    const status = parser.statusCode;
    // llhttp takes any three digits; below 100 there is no status (RFC 9110 15), as Envoy refuses.
    if (status < 100) return ParserError.USER;
    const head: ResponseHead = { status, reason: parser.statusText, headers: this.headers };
    this.informational = status < 200 && status !== 101;
    if (this.informational) {
      this.decoder!.decode1xxHeaders(head);
      // A 1xx has no content whatever its framing fields say (RFC 9110 15.2); llhttp would read a
      // Content-Length body after some of them.
      return this.busy ? HeadersCompleteResult.SKIP_BODY : ParserError.USER;
    }
    // A length past 2^53-1 is inexact as a number: the body would end at another byte than llhttp's.
    if ((this.chunked && this.contentLength >= 0) || !Number.isSafeInteger(this.contentLength)) {
      return ParserError.USER;
    }
    this.responseStarted = true;
    if (!parser.keepAlive) this.keepAlive = false;
    let result: number = HeadersCompleteResult.CONTINUE;
    let endStream: boolean;
    if (switchesProtocols(this.request!, status)) {
      // RFC 9110 §15.2.2: a 101 names the protocol switched to.
      if (status === 101 && !this.headers.has('upgrade')) return ParserError.USER;
      this.tunnel = true;
      this.keepAlive = false;
      this.socket.allowHalfOpen = true;
      result = HeadersCompleteResult.SKIP_BODY_UPGRADE;
      endStream = false;
    } else if (status === 101) {
      // Switching protocols was not asked for.
      return ParserError.USER;
    } else if (this.headRequest || status === 204 || status === 304) {
      result = HeadersCompleteResult.SKIP_BODY;
      endStream = true;
    } else if (this.chunked) {
      // Only exactly `chunked` is understood (Envoy's codec refuses other codings too), and llhttp
      // must read it so: it takes `chunked<TAB>` for another coding, whose body runs to the close,
      // and would hand the chunk framing on as body bytes.
      if (transferEncodingStatus(this.transferEncoding!) !== 0 || parser.needsEof) return ParserError.USER;
      endStream = false;
    } else if (this.contentLength >= 0) {
      endStream = this.contentLength === 0;
    } else {
      // Close-delimited body: it ends when the server closes.
      this.keepAlive = false;
      endStream = false;
    }
    if (endStream) this.responseComplete = true;
    this.decoder!.decodeHeaders(head, endStream);
    return this.busy ? result : ParserError.USER;
  }

  onBody(data: Buffer): number {
    this.bodyBytes += data.length;
    const endStream = this.bodyBytes === this.contentLength && !this.chunked;
    if (endStream) this.responseComplete = true;
    this.decoder!.decodeData(data, endStream);
    return this.busy ? 0 : ParserError.USER;
  }

  onTrailer(name: string, value: string): number {
    if (this.trailers === null) this.trailers = new HeaderMap();
    this.trailers.add(name, value);
    return 0;
  }

  /**
   * Delivers the end of a chunked body, then pauses: the stream is completed outside llhttp (in
   * `onData`), so an owner that reuses the connection at once never races this parse.
   */
  onMessageComplete(): number {
    this.midResponse = false;
    // The head of a tunnel: llhttp stops next (PAUSED_UPGRADE), the bytes after it are the tunnel's.
    if (this.informational || this.tunnel) return 0;
    if (!this.busy) return ParserError.USER;
    if (!this.responseComplete) {
      this.responseComplete = true;
      if (this.trailers !== null) this.decoder!.decodeTrailers(this.trailers);
      else this.decoder!.decodeData(EMPTY, true);
      if (!this.busy) return ParserError.USER;
    }
    return ParserError.PAUSED;
  }

  // ---- internals

  flushCork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private corkUntilEndOfTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(uncorkAtEndOfTick, this);
  }

  private endRequest(): void {
    this.flushCork();
    this.requestComplete = true;
    if (!this.tunnel) return;
    // Our half of the tunnel is done (FIN); the upstream's may still be sending.
    if (this.splicedTunnel === null) this.socket.end();
    if (this.responseComplete) this.completeStream();
  }

  /** The response is done (the request too, unless the server answered early): hand the connection back. */
  private completeStream(): void {
    if (!this.requestComplete) {
      // The server answered before the whole request was sent: the rest cannot go on this connection.
      this.keepAlive = false;
    }
    this.busy = false;
    this.decoder = null;
    this.endStreamFlowControl();
    const reusable = this.keepAlive && this.reusable;
    this.callbacks.onStreamComplete(reusable);
    // A tunnel ended with FIN both ways: the socket closes by itself once its last bytes are out
    // (a spliced one's FINs were the relay's: the socket is closed here).
    if (!reusable && (!this.tunnel || this.splicedTunnel !== null)) this.close();
  }

  /** Drops what the finished stream's owner asked of the socket: it no longer speaks for it. */
  private endStreamFlowControl(): void {
    if (this.readDisableCount > 0) {
      this.readDisableCount = 0;
      this.socket.resume();
    }
    if (this.aboveWriteWatermark) {
      this.aboveWriteWatermark = false;
      this.socket.removeListener('drain', this.onDrain);
    }
  }

  /** Ends the stream with a reset delivered to its decoder, and closes the connection. */
  private failStream(reason: StreamResetReason): void {
    const decoder = this.decoder;
    this.busy = false;
    this.decoder = null;
    this.close();
    if (decoder !== null) decoder.onResetStream(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.tunnel) {
      if (this.busy) this.decoder!.decodeData(chunk, false);
      return;
    }
    const parser = this.parser;
    const ret = parser.execute(chunk);
    if (ret === ParserError.OK) return;
    if (ret === ParserError.PAUSED_UPGRADE && this.tunnel) {
      const rest = chunk.subarray(parser.stopOffset);
      if (rest.length > 0 && this.busy) this.decoder!.decodeData(rest, false);
      return;
    }
    if (ret === ParserError.PAUSED && this.busy) {
      // Bytes after a complete response are not a response to anything we sent.
      if (parser.stopOffset !== chunk.length) this.keepAlive = false;
      parser.resume();
      parser.execute(EMPTY);
      this.completeStream();
      return;
    }
    this.callbacks.onProtocolError?.();
    if (this.busy) this.failStream('protocol_error');
    else this.close();
  }

  /** The server closed its side: this completes a close-delimited body, anything else is cut short. */
  private onEnd(): void {
    if (this.tunnel) {
      this.endTunnelResponse();
      return;
    }
    if (this.busy && this.responseStarted && !this.responseComplete) {
      if (this.parser.finish() === ParserError.PAUSED) this.completeStream();
      else this.failStream('remote_reset');
    }
    this.close();
  }

  /** The upstream half-closed the tunnel: the stream completes once our half is done too. */
  private endTunnelResponse(): void {
    if (!this.busy || this.responseComplete) return;
    this.responseComplete = true;
    this.decoder!.decodeData(EMPTY, true);
    if (this.busy && this.requestComplete) this.completeStream();
  }

  // ---- TunnelSide (http/tunnel-splice.ts)

  tunnelSide(): TunnelSide | null {
    return this.busy && this.tunnel ? this : null;
  }

  tunnelSocket(): net.Socket | null {
    const open = this.busy && this.tunnel && !this.requestComplete && !this.responseComplete && !this.closed;
    return open ? this.socket : null;
  }

  readyToSplice(): boolean {
    return (
      this.splicedTunnel === null &&
      this.readDisableCount === 0 &&
      !this.corked &&
      socketReadyToSplice(this.socket)
    );
  }

  setSplicedTunnel(tunnel: SplicedTunnel | null): void {
    this.splicedTunnel = tunnel;
    // The relay stopped the socket's reads: read again unless the stream's owner paused them since.
    if (tunnel === null && this.readDisableCount === 0) this.socket.resume();
  }

  endSplicedTunnel(): void {
    this.endTunnelResponse();
  }

  resetSplicedTunnel(): void {
    this.close();
  }

  private onClose(): void {
    this.closed = true;
    this.parser.destroy();
    if (this.busy) this.failStream('remote_reset');
    this.callbacks.onClose();
  }
}

function ignoreError(): void {}

/** Wraps a connected `socket` to an upstream in an HTTP/1.1 client codec. */
export function createClientConnection(
  socket: net.Socket,
  callbacks: ClientConnectionCallbacks,
): ClientConnection {
  return new Http1ClientConnection(socket, callbacks);
}
