/**
 * One request/response exchange on a uWS connection: a `ResponseEncoder` over a uWS `HttpResponse`,
 * and the pump that feeds the request body to the `RequestDecoder`.
 *
 * Rules of this uWS build that shape the code (measured, see the listener's module doc):
 *  - once the response is complete or aborted, ANY call on `res` throws, so every path checks
 *    `finished` first and the last write is the last touch;
 *  - outside the route handler's synchronous part, writes must be wrapped in `res.cork()` or each
 *    `writeStatus`/`writeHeader` becomes its own syscall;
 *  - `tryEnd(chunk, total)` never buffers: on backpressure it reports how far it got through
 *    `getWriteOffset()`, and the caller keeps the tail until `onWritable`; `write()` (chunked mode)
 *    buffers everything inside uWS and only reports that backpressure built up.
 */
import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import type { RequestDecoder, RequestHead, ResponseEncoder, ResponseHead, StreamResetReason } from '../codec';
import type { HeaderMap } from '../header-map';
import { writeResponseHead } from './response-head-writer';

const EMPTY = Buffer.alloc(0);

/** Where the listener is bound; the same object for every stream of a listener. */
export interface LocalEndpoint {
  address: string;
  port: number;
}

/** The stream whose `res.cork()` is running; a slot instead of a closure per write. */
let corking: UwsStream | null = null;

function runCorked(): void {
  corking!.writeCorked();
}

export class UwsStream implements ResponseEncoder {
  /** Set by the listener right after `newStream` returns. */
  decoder: RequestDecoder | null = null;
  /** Copied out at request start: uWS only answers while the response is live. */
  readonly remoteAddress: string;
  /** uWS does not expose the peer's port; always 0. */
  readonly remotePort = 0;
  /** The listener's bound address (the wildcard itself for 0.0.0.0 / ::: uWS hides the real one). */
  readonly localAddress: string;
  readonly localPort: number;

  private readonly res: HttpResponse;
  private readonly headRequest: boolean;
  /** The request asked to close the connection: uWS closes it after the response, which says so. */
  private readonly closeRequested: boolean;
  /** `res` is complete, aborted or closed: uWS forbids touching it again. */
  private finished = false;
  /** Reset by the owner or the peer: the decoder hears nothing more. */
  private reset = false;
  /** All request body bytes were delivered (or there were none). */
  private requestComplete = true;

  /** Headers waiting to go out with the first body bytes, in one cork. */
  private heldHead: ResponseHead | null = null;
  /** Declared body length, or -1 (chunked). For headers-only responses: the length to report. */
  private contentLength = -1;
  /** HEAD, 204 or 304: uWS must send no body whatever the owner encodes. */
  private headersOnly = false;
  /** The first body write went to uWS, committing the framing (Content-Length or chunked). */
  private bodyStarted = false;
  /** Known-length body bytes accepted from the owner so far (sent or pending). */
  private bodyBytesAccepted = 0;
  /** The owner ended the body before its declared length; the connection must be closed. */
  private truncated = false;

  /** Known-length bytes uWS refused under backpressure, oldest first; retried from `onWritable`. */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private aboveHighWatermark = false;
  private writableHandlerAttached = false;

  private readDisableCount = 0;
  private paused = false;

  /** Arguments of the write running inside `res.cork()`. */
  private corkData: Buffer = EMPTY;
  private corkEnd = false;

  constructor(res: HttpResponse, request: RequestHead, local: LocalEndpoint) {
    this.res = res;
    this.headRequest = request.method === 'HEAD';
    this.closeRequested = !request.keepAlive;
    this.localAddress = local.address;
    this.localPort = local.port;
    this.remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    // Every response that outlives the handler needs this; without it uWS terminates the process.
    res.onAborted(() => this.handleAborted());
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Starts streaming the request body into the decoder (call before `decodeHeaders`). */
  receiveBody(): void {
    if (this.finished) return;
    this.requestComplete = false;
    this.res.onData((chunk, isLast) => this.handleData(chunk, isLast));
  }

  encodeHeaders(head: ResponseHead, contentLength: number, endStream: boolean): void {
    if (this.finished || this.heldHead !== null || this.bodyStarted) return;
    this.heldHead = head;
    this.headersOnly = this.headRequest || head.status === 204 || head.status === 304;
    // A 204 never carries Content-Length (RFC 9110 §8.6); HEAD and 304 report the resource's.
    this.contentLength = head.status === 204 ? -1 : contentLength;
    if (endStream || this.headersOnly) this.writeInCork(EMPTY, true);
  }

  encodeData(data: Buffer, endStream: boolean): void {
    // A HEAD/204/304 body is dropped: it was finished when its headers were encoded.
    if (this.finished) return;
    if (data.length === 0 && !endStream) return;
    this.writeInCork(data, endStream);
  }

  /** uWS cannot send trailers; they are dropped and the body is ended. */
  encodeTrailers(_trailers: HeaderMap): void {
    this.encodeData(EMPTY, true);
  }

  /** uWS answers `Expect: 100-continue` itself before the handler runs, so there is nothing to do. */
  encode100Continue(): void {}

  /**
   * Closes the connection. Once the response has completed uWS no longer lets us reach the socket,
   * so a reset after that point only silences the decoder.
   */
  resetStream(_reason: StreamResetReason): void {
    if (this.reset) return;
    this.reset = true;
    this.dropPending();
    if (this.finished) return;
    this.finished = true;
    this.res.close(); // runs handleAborted synchronously, which sees `reset` and stays quiet
  }

  /** Reference-counted like Envoy's readDisable: reading resumes when every disable is undone. */
  readDisable(disable: boolean): void {
    if (disable) this.readDisableCount++;
    else if (this.readDisableCount > 0) this.readDisableCount--;
    this.applyReadDisable();
  }

  /** Internal: runs inside `res.cork()` on behalf of `writeInCork` (see `runCorked`). */
  writeCorked(): void {
    const head = this.heldHead;
    if (head !== null) {
      this.heldHead = null;
      writeResponseHead(this.res, head, this.closeRequested);
    }
    if (this.headersOnly) this.endWithoutBody();
    else if (this.contentLength >= 0) this.writeKnownLength(this.corkData, this.corkEnd);
    else if (this.corkEnd && !this.bodyStarted) {
      // The whole body arrived at once: send it with a Content-Length instead of chunked.
      this.contentLength = this.corkData.length;
      this.writeKnownLength(this.corkData, true);
    } else this.writeChunked(this.corkData, this.corkEnd);
  }

  private writeInCork(data: Buffer, endStream: boolean): void {
    this.corkData = data;
    this.corkEnd = endStream;
    const outer = corking; // a cork can nest when a write re-enters through a decoder callback
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the slot spares a closure per write
    corking = this;
    this.res.cork(runCorked);
    corking = outer;
    this.corkData = EMPTY;
    if (this.truncated) this.resetStream('local_reset');
  }

  private endWithoutBody(): void {
    // endWithoutBody(n) leaves the connection unusable in this build (the next request hangs), so
    // the length goes out as an ordinary header and uWS is told there is no length to write.
    if (this.contentLength >= 0) this.res.writeHeader('content-length', String(this.contentLength));
    this.resumeBeforeFinalWrite();
    this.finished = true;
    this.res.endWithoutBody();
  }

  private writeChunked(data: Buffer, endStream: boolean): void {
    this.bodyStarted = true;
    // write() takes everything (uWS buffers what the socket refuses); `false` means it buffered.
    if (data.length > 0 && !this.res.write(data)) this.onBackpressure();
    if (!endStream) return;
    this.resumeBeforeFinalWrite();
    this.finished = true;
    this.res.end();
  }

  private writeKnownLength(data: Buffer, endStream: boolean): void {
    const total = this.contentLength;
    const room = total - this.bodyBytesAccepted;
    // Never write past the declared length: the excess would be read as the next response.
    const chunk = data.length > room ? data.subarray(0, room) : data;
    this.bodyBytesAccepted += chunk.length;
    if (chunk.length === 0 && this.bodyStarted && !endStream) return;
    this.bodyStarted = true;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Earlier bytes still waiting means onWritable is already due; keep order and wait for it.
    const drained = this.pending.length === 1 && this.drainPending();
    // A body that ends short of its Content-Length is sent as far as the socket takes it now, and
    // the connection is then closed (outside the cork, which would discard it): the only way to
    // tell the client the body is truncated.
    if (endStream && this.bodyBytesAccepted < total) this.truncated = true;
    else if (!drained && this.pending.length > 0) this.onBackpressure();
  }

  /**
   * Offers the queued chunks to uWS with `tryEnd`, which writes what the socket takes and reports
   * the offset reached; the untaken tail stays queued. Returns true when the queue is empty.
   */
  private drainPending(): boolean {
    const res = this.res;
    const pending = this.pending;
    while (pending.length > 0) {
      const chunk = pending[0]!;
      const last = pending.length === 1 && this.bodyBytesAccepted === this.contentLength;
      if (last) this.resumeBeforeFinalWrite();
      const before = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.contentLength);
      if (done) {
        this.finished = true;
        this.dropPending();
        return true;
      }
      const sent = res.getWriteOffset() - before;
      this.pendingBytes -= sent;
      if (!ok) {
        pending[0] = chunk.subarray(sent);
        if (last) this.applyReadDisable();
        return false;
      }
      pending.shift();
    }
    return true;
  }

  private dropPending(): void {
    this.pending.length = 0;
    this.pendingBytes = 0;
  }

  private onBackpressure(): void {
    if (!this.writableHandlerAttached) {
      this.writableHandlerAttached = true;
      this.res.onWritable(() => this.handleWritable());
    }
    if (this.aboveHighWatermark) return;
    this.aboveHighWatermark = true;
    this.decoder?.onAboveWriteBufferHighWatermark();
  }

  /** uWS asks us to continue; returning false means "still blocked, call again when writable". */
  private handleWritable(): boolean {
    if (this.finished) return true;
    if (this.pending.length > 0 && !this.drainPending()) return false;
    if (this.aboveHighWatermark && !this.finished) {
      this.aboveHighWatermark = false;
      // The decoder may encode more right here, and that may block again.
      this.decoder?.onBelowWriteBufferLowWatermark();
    }
    return this.pending.length === 0;
  }

  private handleData(chunk: ArrayBuffer, isLast: boolean): void {
    if (isLast) this.requestComplete = true;
    if (this.reset) return;
    // uWS detaches `chunk` when this callback returns, and a decoder may queue what it is given
    // (e.g. a socket write that cannot complete now), so the bytes are copied out here.
    const data = chunk.byteLength === 0 ? EMPTY : Buffer.copyBytesFrom(new Uint8Array(chunk));
    this.decoder!.decodeData(data, isLast);
  }

  private handleAborted(): void {
    // uWS also reports an abort after our own close(), and (in this build) after some completed
    // responses; neither is news to the decoder.
    const quiet = this.reset || this.finished;
    this.finished = true;
    this.reset = true;
    this.dropPending();
    if (!quiet) this.decoder?.onResetStream('remote_reset');
  }

  private applyReadDisable(): void {
    if (this.finished) return;
    const pause = this.readDisableCount > 0 && !this.requestComplete;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.res.pause();
    else this.res.resume();
  }

  /**
   * A paused socket must be resumed before the write that may complete the response: afterwards
   * uWS refuses every call on `res`, and the keep-alive connection would stay paused for good.
   */
  private resumeBeforeFinalWrite(): void {
    if (!this.paused) return;
    this.paused = false;
    this.res.resume();
  }
}
