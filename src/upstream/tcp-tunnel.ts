/**
 * A terminated CONNECT's upstream (Envoy's TcpUpstream, for routes with `connect_config`): a plain
 * TCP connection to the host, behind the same encoder/decoder pair an HTTP upstream request uses,
 * so the router relays it as it relays any tunnel. Nothing of the CONNECT request goes upstream:
 * once connected the tunnel answers the stream with a 200 of its own, then request data is
 * written as it is and the host's bytes are response data; each direction ends with its FIN
 * (half-close), and a connection that closes otherwise resets the stream.
 *
 * One connection per tunnel, never pooled: it counts in the cluster's upstream_cx_* stats (total,
 * active, connect time and failures, bytes) but not against max_connections.
 */
import * as net from 'node:net';
import type {
  RequestEncoder,
  RequestHead,
  ResponseDecoder,
  SplicedTunnel,
  StreamResetReason,
  TunnelSide,
} from '../http/codec';
import { HeaderMap } from '../http/header-map';
import type { PoolStats } from '../stats/cluster-stats';
import type { Host } from './host';
import type { Cancellable, PoolCallbacks } from './pool';
import { resetSocket } from '../common/reset-socket';
import { socketReadyToSplice } from '../http/tunnel-splice';

const EMPTY = Buffer.alloc(0);

export interface TcpTunnelOptions {
  connectTimeoutMs: number;
  /** Monotonic milliseconds. */
  nowMs(): number;
  stats?: PoolStats;
}

class TcpTunnel implements RequestEncoder, Cancellable, TunnelSide {
  private readonly socket: net.Socket;
  private readonly startedMs: number;
  private readonly connectTimer: NodeJS.Timeout;
  private connected = false;
  /** The stream is over (both halves ended, reset, or cancelled): no callback fires any more. */
  private done = false;
  private upstreamEnded = false;
  private requestEnded = false;
  private readDisables = 0;
  private aboveWatermark = false;
  /** The connect error's code (ECONNREFUSED …), for the failure detail. */
  private errorCode = '';
  /** The native relay that took the socket (it reads and half-closes it, not this tunnel). */
  private splicedTunnel: SplicedTunnel | null = null;

  constructor(
    private readonly host: Host,
    private readonly decoder: ResponseDecoder,
    private readonly callbacks: PoolCallbacks,
    private readonly options: TcpTunnelOptions,
  ) {
    this.startedMs = options.nowMs();
    options.stats?.connectionOpened();
    this.socket = net.connect({ host: host.address, port: host.port, noDelay: true, allowHalfOpen: true });
    this.connectTimer = setTimeout(this.onConnectTimeout, options.connectTimeoutMs);
    this.socket.once('connect', this.onConnect);
    this.socket.on('error', this.onError);
    this.socket.once('close', this.onClose);
  }

  cancel(): void {
    this.done = true;
    this.destroySocket();
  }

  // ---- RequestEncoder

  /** The CONNECT ends here: its head goes nowhere, and the tunnel is open. */
  encodeHeaders(_head: RequestHead, _contentLength: number, _endStream: boolean): void {
    if (this.done) return;
    this.decoder.decodeHeaders({ status: 200, reason: '', headers: new HeaderMap() }, false);
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.done || this.requestEnded) return;
    if (data.length > 0 && !this.socket.write(data) && !this.aboveWatermark) {
      this.aboveWatermark = true;
      this.socket.once('drain', this.onDrain);
      this.decoder.onAboveWriteBufferHighWatermark();
    }
    if (!endStream) return;
    this.requestEnded = true;
    if (this.splicedTunnel === null) this.socket.end();
    if (this.upstreamEnded) this.finish();
  }

  encodeTrailers(_trailers: HeaderMap): void {
    this.encodeData(EMPTY, true);
  }

  resetStream(_reason: StreamResetReason): void {
    if (this.done) return;
    this.done = true;
    this.splicedTunnel?.stop();
    resetSocket(this.socket);
  }

  readDisable(disable: boolean): void {
    this.readDisables = Math.max(0, this.readDisables + (disable ? 1 : -1));
    if (this.splicedTunnel !== null) return; // the relay reads the socket
    if (this.readDisables > 0) this.socket.pause();
    else this.socket.resume();
  }

  // ---- TunnelSide (http/tunnel-splice.ts)

  tunnelSide(): TunnelSide | null {
    return this.connected && !this.done ? this : null;
  }

  tunnelSocket(): net.Socket | null {
    return this.connected && !this.done && !this.requestEnded && !this.upstreamEnded ? this.socket : null;
  }

  readyToSplice(): boolean {
    return this.splicedTunnel === null && this.readDisables === 0 && socketReadyToSplice(this.socket);
  }

  setSplicedTunnel(tunnel: SplicedTunnel | null): void {
    this.splicedTunnel = tunnel;
    // The relay stopped the socket's reads: read again unless the stream's owner paused them since.
    if (tunnel === null && this.readDisables === 0) this.socket.resume();
  }

  endSplicedTunnel(): void {
    this.onEnd();
  }

  resetSplicedTunnel(): void {
    this.destroySocket();
  }

  // ---- socket events

  private readonly onConnect = (): void => {
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.options.stats?.connected(this.options.nowMs() - this.startedMs);
    this.socket.on('data', this.onData);
    this.socket.once('end', this.onEnd);
    if (!this.done) this.callbacks.onPoolReady(this, this.host, false);
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.errorCode = err.code ?? err.message;
  };

  private readonly onConnectTimeout = (): void => {
    this.failConnect(true, `connect timeout after ${this.options.connectTimeoutMs} ms`);
  };

  private readonly onData = (chunk: Buffer): void => {
    if (!this.done) this.decoder.decodeData(chunk, false);
  };

  private readonly onEnd = (): void => {
    this.upstreamEnded = true;
    if (this.done) return;
    if (this.requestEnded) this.finish();
    this.decoder.decodeData(EMPTY, true);
  };

  /** Both halves ended with FIN: a spliced socket is closed here (the relay sent the FINs). */
  private finish(): void {
    this.done = true;
    if (this.splicedTunnel !== null) this.destroySocket();
  }

  private destroySocket(): void {
    // The relay holds duplicates of the fd: the connection closes only once they are closed too.
    this.splicedTunnel?.stop();
    this.socket.destroy();
  }

  private readonly onDrain = (): void => {
    this.aboveWatermark = false;
    if (!this.done) this.decoder.onBelowWriteBufferLowWatermark();
  };

  private readonly onClose = (hadError: boolean): void => {
    clearTimeout(this.connectTimer);
    const stats = this.options.stats;
    const spliced = this.splicedTunnel;
    stats?.bytes(
      this.socket.bytesRead + (spliced?.toDownstream ?? 0),
      this.socket.bytesWritten + (spliced?.toUpstream ?? 0),
    );
    stats?.connectionClosed();
    if (!this.connected) {
      this.failConnect(false, hadError ? `connect error: ${this.errorCode}` : 'connection closed');
      return;
    }
    if (this.done) return;
    this.done = true;
    this.decoder.onResetStream('remote_reset');
  };

  private failConnect(timedOut: boolean, detail: string): void {
    if (this.connected || this.done) return;
    this.done = true;
    this.options.stats?.connectFailed(timedOut);
    this.destroySocket();
    this.callbacks.onPoolFailure(timedOut ? 'timeout' : 'connection_failure', detail);
  }
}

/**
 * Opens a TCP tunnel to `host` for a terminated CONNECT: `callbacks.onPoolReady` once connected
 * (the encoder it gets answers the stream's `decoder` with a 200 when given the request head), or
 * `onPoolFailure`. The handle cancels it.
 */
export function openTcpTunnel(
  host: Host,
  decoder: ResponseDecoder,
  callbacks: PoolCallbacks,
  options: TcpTunnelOptions,
): Cancellable {
  return new TcpTunnel(host, decoder, callbacks, options);
}
