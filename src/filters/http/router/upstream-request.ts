/**
 * One attempt of a request against one upstream host (Envoy's UpstreamRequest): it asks the pool
 * for a connection, writes the request, and relays the response to the router. A retry makes a new
 * UpstreamRequest; the old one is reset and forgotten.
 */
import {
  switchesProtocols,
  type RequestEncoder,
  type RequestHead,
  type ResponseDecoder,
  type ResponseHead,
  type StreamResetReason,
} from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import type { TimeoutTarget } from '../../../common/timer-wheel';
import type { Host } from '../../../upstream/host';
import type { Cancellable, PoolCallbacks, PoolFailureReason } from '../../../upstream/pool';
import type { RouterFilter } from './router';

export class UpstreamRequest implements ResponseDecoder, PoolCallbacks, TimeoutTarget {
  encoder: RequestEncoder | null = null;
  host: Host | null = null;
  /** The connection had served requests before: a reset before any response byte may be a stale socket. */
  reused = false;
  /** This attempt is itself the one retry allowed after a stale pooled connection. */
  staleRetried = false;
  responseStarted = false;
  /**
   * The response switched protocols: its end of stream ends only the upstream half, and request
   * data still goes up until the downstream half ends.
   */
  private tunnel = false;
  /** The request (head and all body received so far) has been written upstream. */
  private requestEnded = false;
  private cancel: Cancellable | null = null;
  private done = false;
  readonly startMs: number;
  /** When the pool attached this attempt to a connection (preciseMonotonicMs), 0 when not timed. */
  attachedAtMs = 0;
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  /** The cluster's max_stream_duration, from the attach on (the per-try timeout is this object's own). */
  durationTimer: MaxStreamDurationTimer | null = null;

  constructor(
    private readonly router: RouterFilter,
    private readonly head: RequestHead,
    private readonly contentLength: number,
  ) {
    this.startMs = router.now();
  }

  start(cancel: Cancellable | null): void {
    this.cancel = cancel;
  }

  // ------------------------------------------------------------ PoolCallbacks

  onPoolReady(encoder: RequestEncoder, host: Host, reused: boolean): void {
    this.cancel = null;
    if (this.done) return;
    this.encoder = encoder;
    this.host = host;
    this.reused = reused;
    this.attachedAtMs = this.router.rttStart(host);
    this.router.armMaxStreamDuration(this);
    const body = this.router.bufferedBody;
    const endStream = this.router.downstreamEnded && body.length === 0;
    if (!endStream && body.length === 0 && !this.router.retainsBody) {
      // Nothing of the body arrived yet and no retry needs it: it may move natively, never through JS.
      const source = this.router.requestBodySource();
      if (source !== null && encoder.encodeHeadersPipedFrom?.(this.head, this.contentLength, source) === true)
        return;
    }
    encoder.encodeHeaders(this.head, this.contentLength, endStream);
    for (let i = 0; i < body.length; i++) {
      encoder.encodeData(body[i]!, this.router.downstreamEnded && i === body.length - 1);
    }
    this.requestEnded = this.router.downstreamEnded;
  }

  onPoolFailure(reason: PoolFailureReason, detail: string): void {
    this.cancel = null;
    if (this.done) return;
    this.done = true;
    this.router.onUpstreamPoolFailure(this, reason, detail);
  }

  // ------------------------------------------------------------ body from downstream

  /** More request body arrived after the upstream request started. */
  sendData(data: Buffer, endStream: boolean): void {
    if (this.encoder === null || this.done) return;
    this.encoder.encodeData(data, endStream);
    if (endStream) this.requestEnded = true;
  }

  get requestFullySent(): boolean {
    return this.requestEnded;
  }

  // ------------------------------------------------------------ ResponseDecoder (from the upstream codec)

  decode1xxHeaders(head: ResponseHead): void {
    if (head.status === 100) this.router.onUpstream100Continue();
  }

  decodeHeaders(head: ResponseHead, endStream: boolean): void {
    if (this.done) return;
    this.responseStarted = true;
    this.tunnel = switchesProtocols(this.head, head.status);
    if (endStream) this.done = true;
    this.router.onUpstreamHeaders(this, head, endStream);
  }

  decodeHeadersInPlace(status: number, endStream: boolean): boolean {
    if (this.done || !this.router.mayProxyHeadInPlace(this, status)) return false;
    this.responseStarted = true;
    if (endStream) this.done = true;
    this.router.onUpstreamHeadersInPlace(this, status, endStream);
    return true;
  }

  decodeData(data: Buffer, endStream: boolean): void {
    if (this.done && !endStream) return;
    if (endStream && !this.tunnel) this.done = true;
    this.router.onUpstreamData(this, data, endStream);
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.done = true;
    this.router.onUpstreamTrailers(trailers);
  }

  onResetStream(reason: StreamResetReason): void {
    if (this.done) return;
    this.done = true;
    this.router.onUpstreamReset(this, reason);
  }

  onAboveWriteBufferHighWatermark(): void {
    if (!this.done) this.router.onUpstreamWriteWatermark(this, true);
  }

  onBelowWriteBufferLowWatermark(): void {
    if (!this.done) this.router.onUpstreamWriteWatermark(this, false);
  }

  // ------------------------------------------------------------ per-try timeout

  onTimeout(): void {
    if (this.done) return;
    this.router.onPerTryTimeout(this);
  }

  onMaxStreamDuration(): void {
    if (this.done) return;
    this.router.onUpstreamMaxStreamDuration(this);
  }

  /** Abandon this attempt: cancel the pool wait or reset the upstream stream. */
  reset(): void {
    if (this.cancel !== null) {
      this.cancel.cancel();
      this.cancel = null;
    }
    if (!this.done) {
      this.done = true;
      this.encoder?.resetStream('local_reset');
    }
  }

  readDisable(disable: boolean): void {
    // Once the response is complete the connection may already serve another request.
    if (!this.done) this.encoder?.readDisable(disable);
  }
}

/** An attempt's max_stream_duration deadline (Envoy's UpstreamRequest max_stream_duration_timer_). */
export class MaxStreamDurationTimer implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  constructor(private readonly up: UpstreamRequest) {}
  onTimeout(): void {
    this.up.onMaxStreamDuration();
  }
}
