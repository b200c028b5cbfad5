/**
 * An upstream connection of the native engine: the transport a pool opened through
 * `engineConnector`, then the `ClientConnection` (one request at a time) and, while a request is
 * active, its `RequestEncoder` — the JS half of the engine's client codec (upstream.c is the C
 * half; src/http/client-connection.ts is the JS codec both follow).
 */
import type {
  ClientConnection,
  RequestEncoder,
  RequestHead,
  ResponseDecoder,
  ResponseEncoder,
  StreamResetReason,
} from '../http/codec';
import { constants } from 'node:os';
import type { HeaderMap } from '../http/header-map';
import { BodyFraming, writeRequestHead, type RequestFramingState } from '../http/h1-heads';
import { headWriter, isValidRequestTarget, lastChunkWithTrailers } from '../http/h1-serialize';
import type { ConnectHandler, UpstreamConnector, UpstreamTransport } from '../upstream/transport';
import { EngineEvent, type NativeEngine } from './native-engine';
import { resetReasonName } from './reset-reasons';
import type { EngineServerStream } from './engine-server-connection';

const EMPTY = Buffer.alloc(0);
const byteCounts = new Float64Array(2);

export class EngineClientConnection implements ClientConnection, RequestEncoder, UpstreamTransport {
  private decoder: ResponseDecoder | null = null;
  busy = false;
  private closed = false;
  private readonly framingState: RequestFramingState = { framing: BodyFraming.NONE, closeRequested: false };
  private requestComplete = false;
  /** The decoder has had the response's end (a data event with endStream). */
  private responseEnded = false;
  private requestPiped = false;
  /** The downstream stream this connection's response body is piped to (for its byte count). */
  pipeSink: EngineServerStream | null = null;
  private aboveWriteWatermark = false;

  constructor(
    readonly engine: NativeEngine,
    readonly id: number,
    private readonly handler: ConnectHandler,
  ) {
    engine.clients[id] = this;
  }

  // ---- UpstreamTransport

  get bytesRead(): number {
    this.engine.bindings.connBytes(this.id, byteCounts);
    return byteCounts[0]!;
  }

  get bytesWritten(): number {
    this.engine.bindings.connBytes(this.id, byteCounts);
    return byteCounts[1]!;
  }

  get writable(): boolean {
    return !this.closed;
  }

  destroy(): void {
    this.close();
  }

  // ---- ClientConnection

  newStream(decoder: ResponseDecoder): RequestEncoder {
    if (this.busy || this.closed) throw new Error('HTTP/1 client connection is busy or closed');
    this.busy = true;
    this.decoder = decoder;
    this.requestComplete = false;
    this.responseEnded = false;
    this.requestPiped = false;
    this.pipeSink = null;
    this.aboveWriteWatermark = false;
    return this;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.bindings.connClose(this.id);
  }

  // ---- RequestEncoder

  encodeHeaders(head: RequestHead, contentLength: number, endStream: boolean): void {
    this.writeHead(head, contentLength, endStream, -1);
  }

  encodeHeadersPipedFrom(head: RequestHead, contentLength: number, source: ResponseEncoder): boolean {
    const sourceId = (source as Partial<EngineServerStream>).nativeId;
    if (sourceId === undefined || (source as EngineServerStream).connection.engine !== this.engine)
      return false;
    if (!this.writeHead(head, contentLength, false, sourceId)) return false;
    this.requestPiped = true;
    (source as EngineServerStream).connection.requestPipedTo(source as EngineServerStream);
    return true;
  }

  private writeHead(head: RequestHead, contentLength: number, endStream: boolean, pipeFrom: number): boolean {
    if (!this.busy || this.closed) return false;
    if (!isValidRequestTarget(head.path)) {
      this.failStream('local_reset');
      return false;
    }
    const w = headWriter().nameFieldsOf(this.engine.exchange);
    writeRequestHead(w, this.framingState, head, contentLength, endStream);
    this.engine.bindings.clientWriteHead(
      this.id,
      w.bytes,
      w.length,
      this.framingState.framing,
      endStream,
      head.method === 'HEAD',
      !this.framingState.closeRequested,
      pipeFrom,
    );
    if (endStream) this.requestComplete = true;
    return true;
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (!this.busy || this.requestComplete) return;
    if (this.requestPiped) {
      // The body went natively; this is its end reaching JS.
      if (endStream) this.requestComplete = true;
      return;
    }
    this.engine.bindings.clientWriteData(this.id, data, endStream);
    if (endStream) this.requestComplete = true;
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (!this.busy || this.requestComplete) return;
    if (this.framingState.framing === BodyFraming.CHUNKED && !this.requestPiped) {
      this.engine.bindings.clientWriteText(this.id, lastChunkWithTrailers(trailers));
    }
    this.requestComplete = true;
  }

  resetStream(_reason: StreamResetReason): void {
    if (!this.busy) return;
    // The owner gave up: the exchange is broken and the connection cannot be reused.
    this.busy = false;
    this.decoder = null;
    this.close();
  }

  readDisable(disable: boolean): void {
    if (!this.closed) this.engine.bindings.connReadDisable(this.id, disable);
  }

  // ---- engine events

  onEngineEvent(type: number, a: number, b: number): void {
    const decoder = this.decoder;
    switch (type) {
      case EngineEvent.CONNECTED:
        this.handler.onConnected(this);
        return;
      case EngineEvent.RESPONSE_1XX:
        decoder?.decode1xxHeaders(this.engine.exchange.responseHead());
        return;
      case EngineEvent.RESPONSE_HEAD:
        if (a === 1) this.responseEnded = true;
        if (decoder === null) return;
        // Most heads go downstream with the same few edits, written by the engine from its copy.
        if (decoder.decodeHeadersInPlace?.(this.engine.exchange.status, a === 1) === true) return;
        decoder.decodeHeaders(this.engine.exchange.responseHead(), a === 1);
        return;
      case EngineEvent.RESPONSE_DATA:
        if (b === 1) this.responseEnded = true;
        decoder?.decodeData(a === 0 ? EMPTY : this.engine.exchange.body(a), b === 1);
        return;
      case EngineEvent.RESPONSE_COMPLETE:
        this.onResponseComplete(a === 1, b === 1);
        return;
      case EngineEvent.UPSTREAM_WATERMARK:
        if (decoder === null || this.aboveWriteWatermark === (a === 1)) return;
        this.aboveWriteWatermark = a === 1;
        if (a === 1) decoder.onAboveWriteBufferHighWatermark();
        else decoder.onBelowWriteBufferLowWatermark();
        return;
    }
  }

  /** The response is done and the engine's connection is clean: end the decoder's stream, then the pool's. */
  /**
   * The engine hands a connection back only in a clean state (reading on, no unparsed bytes,
   * parser between messages) and closes it otherwise, so an idle open connection is reusable.
   */
  get reusable(): boolean {
    return !this.busy && !this.closed;
  }

  private onResponseComplete(reusable: boolean, trailers: boolean): void {
    const decoder = this.decoder;
    const sink = this.pipeSink;
    if (sink !== null) sink.nativeBodyBytes.sent = this.engine.exchange.pipedBytes;
    if (decoder !== null && !this.responseEnded) {
      this.responseEnded = true;
      if (trailers) decoder.decodeTrailers(this.engine.exchange.trailers());
      else decoder.decodeData(EMPTY, true);
    }
    if (!this.busy) return;
    this.busy = false;
    this.decoder = null;
    this.pipeSink = null;
    this.handler.onStreamComplete(reusable && !this.closed);
    if (!reusable) this.closed = true; // the engine closed it; its close event follows
  }

  onConnectFailed(errno: number): void {
    this.closed = true;
    this.handler.onConnectFailed(`connect error: ${errnoName(errno)}`);
  }

  onClosed(reason: number): void {
    this.closed = true;
    const name = resetReasonName(reason || 2);
    // The upstream broke HTTP/1 (upstream_cx_protocol_error), as the JS codec reports it.
    if (name === 'protocol_error') this.handler.onProtocolError?.();
    if (this.busy) this.failStream(name);
    this.handler.onClose();
  }

  private failStream(reason: StreamResetReason): void {
    const decoder = this.decoder;
    this.busy = false;
    this.decoder = null;
    this.close();
    decoder?.onResetStream(reason);
  }
}

/** Node's name for an errno, e.g. ECONNREFUSED (what the JS path's connect errors say). */
function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}
const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** A connect that failed before it began (no socket): reported from the next tick, as `net` does. */
const NO_TRANSPORT: UpstreamTransport = { bytesRead: 0, bytesWritten: 0, writable: false, destroy() {} };

/** Pools open their connections through the engine. */
export function engineConnector(engine: NativeEngine): UpstreamConnector {
  return (address, port, handler) => {
    let id: number;
    try {
      id = engine.bindings.engineConnect(address, port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      process.nextTick(() => handler.onConnectFailed(`connect error: ${code}`));
      return NO_TRANSPORT;
    }
    return new EngineClientConnection(engine, id, handler);
  };
}
