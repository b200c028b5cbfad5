/**
 * `auto_config` for one host (Envoy's AutoHttpConfig): the protocol is what ALPN negotiates with the
 * host, `h2` offered first, then `http/1.1`; a host that answers no ALPN speaks HTTP/1.1. The first
 * connection finds out: requests wait for it (bounded by max_pending_requests, as in any pool), then
 * it becomes the first connection of the HTTP/2 or HTTP/1.1 pool that serves the host from then on
 * in this worker, and the waiting requests go to that pool. A failed first connect fails the waiting
 * requests; the next request tries again.
 */
import type * as net from 'node:net';
import type { ResponseDecoder } from '../http/codec';
import type { CircuitBreaker } from './circuit-breakers';
import type { Host } from './host';
import { HostColumn, type HostTable } from './host-table';
import type { PoolStats } from '../stats/cluster-stats';
import type { Cancellable, ConnPool, PoolCallbacks } from './pool';
import type { ConnectOptions, SocketConnector, UpstreamTransport } from './transport';

export type AlpnProtocol = 'h2' | 'http/1.1';

export interface AlpnConnPoolOptions {
  /** The cluster's TLS, offering h2 and http/1.1. */
  connector: SocketConnector;
  connectTimeoutMs: number;
  /** What the first connection asks: ALPN `h2,http/1.1`, and auto_sni's server name. */
  connect: ConnectOptions;
  circuitBreaker: CircuitBreaker;
  /** A failed first connection is counted as the pools count theirs (the chosen pool counts the rest). */
  table: HostTable;
  stats?: PoolStats;
  /**
   * The pool for `protocol`, whose first connection is `socket` (connected and verified), or which
   * opens its own when null.
   */
  createPool(protocol: AlpnProtocol, socket: net.Socket | null): ConnPool;
}

/** A request waiting for the first connection; then its handle in the chosen pool. */
class Waiting implements Cancellable {
  handedOver: Cancellable | null = null;
  cancelled = false;

  constructor(
    private readonly pool: AlpnConnPool,
    readonly decoder: ResponseDecoder,
    readonly callbacks: PoolCallbacks,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (this.handedOver !== null) this.handedOver.cancel();
    else this.pool.forget(this);
  }
}

export class AlpnConnPool implements ConnPool {
  private chosen: ConnPool | null = null;
  private waiting: Waiting[] = [];
  private probe: UpstreamTransport | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly host: Host,
    private readonly options: AlpnConnPoolOptions,
  ) {}

  newStream(decoder: ResponseDecoder, callbacks: PoolCallbacks): Cancellable | null {
    if (this.chosen !== null) return this.chosen.newStream(decoder, callbacks);
    if (this.closed) {
      callbacks.onPoolFailure('connection_failure', 'pool closed');
      return null;
    }
    if (!this.options.circuitBreaker.tryStartPending()) {
      callbacks.onPoolFailure('overflow', 'too many requests waiting for a connection');
      return null;
    }
    const waiting = new Waiting(this, decoder, callbacks);
    this.waiting.push(waiting);
    if (this.probe === null) this.connectFirst();
    return waiting;
  }

  drain(): void {
    this.chosen?.drain();
  }

  close(): void {
    this.closed = true;
    this.chosen?.close();
    this.probe?.destroy();
    this.stopProbe();
    this.failWaiting('connection_failure', 'pool closed');
  }

  /** A waiting request cancelled before the protocol was known. */
  forget(waiting: Waiting): void {
    const i = this.waiting.indexOf(waiting);
    if (i === -1) return;
    this.waiting.splice(i, 1);
    this.options.circuitBreaker.endPending();
  }

  private connectFirst(): void {
    const { address, port } = this.host;
    this.probeTimer = setTimeout(() => {
      this.probe?.destroy();
      this.firstConnectFailed('timeout', `connect timeout after ${this.options.connectTimeoutMs} ms`);
    }, this.options.connectTimeoutMs);
    this.probe = this.options.connector(
      address,
      port,
      {
        onConnected: (socket) => this.onFirstConnection(socket),
        onConnectFailed: (detail) => {
          if (this.probe !== null) this.firstConnectFailed('connection_failure', detail);
        },
      },
      this.options.connect,
    );
  }

  private firstConnectFailed(reason: 'connection_failure' | 'timeout', detail: string): void {
    this.stopProbe();
    const stats = this.options.stats;
    stats?.connectionOpened();
    stats?.connectFailed(reason === 'timeout');
    stats?.connectionClosed();
    this.options.table.add(this.host.slot, HostColumn.ConnectFailures, 1);
    this.failWaiting(reason, detail);
  }

  private onFirstConnection(socket: net.Socket): void {
    const late = this.probe === null; // timed out or closed already
    this.stopProbe();
    if (late || this.closed) {
      socket.destroy();
      return;
    }
    const alpn = (socket as { alpnProtocol?: string | false }).alpnProtocol;
    const protocol: AlpnProtocol = alpn === 'h2' ? 'h2' : 'http/1.1';
    // Nobody waits any more (all cancelled): the socket would idle unwatched; the pool opens its own.
    const first = this.waiting.length > 0 ? socket : null;
    if (first === null) socket.destroy();
    const chosen = this.options.createPool(protocol, first);
    this.chosen = chosen;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) {
      this.options.circuitBreaker.endPending();
      w.handedOver = chosen.newStream(w.decoder, w.callbacks);
    }
  }

  /** The first connect is over (connected, failed, timed out, or the pool closed). */
  private stopProbe(): void {
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.probe = null;
  }

  private failWaiting(reason: 'connection_failure' | 'timeout', detail: string): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) {
      this.options.circuitBreaker.endPending();
      w.callbacks.onPoolFailure(reason, detail);
    }
  }
}

/**
 * A socket connector whose first connection is `first` (already connected), reported on the next
 * tick as connectors do; `then` opens the others. A first socket that closed meanwhile is skipped.
 */
export function primedConnector(first: net.Socket, then: SocketConnector): SocketConnector {
  let socket: net.Socket | null = first;
  return (address, port, handler, options) => {
    const ready = socket;
    socket = null;
    if (ready === null || ready.destroyed) return then(address, port, handler, options);
    process.nextTick(() => handler.onConnected(ready));
    return ready;
  };
}
