/**
 * tcp_proxy's relay on Node streams, used when the splice relay is not available (no addon, not
 * Linux, LEGATE_NATIVE=0) or another network filter needs to see the bytes.
 *
 * - Backpressure both ways: a side stops reading while the other side's write queue holds more
 *   than `bufferLimit` bytes (per_connection_buffer_limit_bytes) and resumes once it drained, so
 *   memory per connection stays bounded whatever the peers' speeds.
 * - Half-close: FIN from one peer is passed on with `end()`; both sockets are half-open capable,
 *   so the other direction keeps flowing until its own FIN.
 * - Reset: an error on one socket (ECONNRESET, EPIPE…) resets the other one.
 * - Upstream flush (Envoy's upstream_flush_*): when the downstream is gone while bytes for the
 *   upstream are still queued, they are still written, then the upstream is closed.
 */
import type * as net from 'node:net';
import { RelayEnd, type Relay, type RelayOwner } from './relay';
import { resetSocket } from '../../../common/reset-socket';
import type { TcpProxyStats } from './stats';

/** One direction: reads `from`, writes `to`. */
class Pipe {
  bytes = 0;
  /** Times `from` stopped being read while `to` was over the limit, and was read again. */
  pauses = 0;
  resumes = 0;
  private paused = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly limit: number,
  ) {
    from.on('data', this.onData);
    from.on('end', this.onEnd);
    to.on('drain', this.onDrain);
    // The peer's FIN may already have been read: the downstream waits paused while the upstream
    // connects, and a paused socket with nothing buffered still emits 'end' at once, before any
    // pipe listened. Unpassed, that FIN would leave both connections open for good.
    if (from.readableEnded) to.end();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.bytes += chunk.length;
    this.to.write(chunk);
    if (this.to.writableLength > this.limit && !this.paused) {
      this.paused = true;
      this.from.pause();
      this.pauses++;
    }
  };

  private readonly onDrain = (): void => {
    if (!this.paused) return;
    this.paused = false;
    this.from.resume();
    this.resumes++;
  };

  private readonly onEnd = (): void => {
    this.to.end();
  };
}

export class JsRelay implements Relay {
  private readonly up: Pipe;
  private readonly down: Pipe;
  private openSockets = 2;
  private end = RelayEnd.Clean;
  private closedByOwner = false;
  private flushing = false;

  constructor(
    private readonly downstream: net.Socket,
    private readonly upstream: net.Socket,
    bufferLimit: number,
    private readonly stats: TcpProxyStats,
    private readonly owner: RelayOwner,
  ) {
    downstream.allowHalfOpen = true;
    upstream.allowHalfOpen = true;
    this.up = new Pipe(downstream, upstream, bufferLimit);
    this.down = new Pipe(upstream, downstream, bufferLimit);
    downstream.on('error', this.onDownstreamError);
    upstream.on('error', this.onUpstreamError);
    downstream.once('close', this.onDownstreamClose);
    upstream.once('close', this.onUpstreamClose);
    downstream.resume();
    upstream.resume();
  }

  get toUpstream(): number {
    return this.up.bytes;
  }

  get toDownstream(): number {
    return this.down.bytes;
  }

  get downstreamReadingPaused(): number {
    return this.up.pauses;
  }

  get downstreamReadingResumed(): number {
    return this.up.resumes;
  }

  sample(): void {
    // The pipes count as they go.
  }

  close(): void {
    this.closedByOwner = true;
    this.downstream.destroy();
    this.upstream.destroy();
  }

  private readonly onDownstreamError = (): void => {
    if (this.end === RelayEnd.Clean) this.end = RelayEnd.DownstreamReset;
    resetSocket(this.upstream);
  };

  private readonly onUpstreamError = (): void => {
    if (this.end === RelayEnd.Clean) this.end = RelayEnd.UpstreamReset;
    resetSocket(this.downstream);
  };

  private readonly onDownstreamClose = (): void => {
    if (!this.upstream.destroyed && this.upstream.writableLength > 0) {
      this.flushing = true;
      this.stats.flushTotal.inc();
      this.stats.flushActive.inc();
    }
    this.onSocketClosed();
  };

  private readonly onUpstreamClose = (): void => {
    if (this.flushing) this.stats.flushActive.dec();
    this.onSocketClosed();
  };

  private onSocketClosed(): void {
    if (--this.openSockets > 0 || this.closedByOwner) return;
    this.owner.onRelayEnd(this.end);
  }
}
