/**
 * The skeleton both connection pools share (HTTP/1.1 conn-pool.ts, HTTP/2 h2-conn-pool.ts): a
 * request takes a connection with room at once or waits in the pending queue while connections open
 * for it; the host table and cluster stats count connections opened, connect failures and
 * connections gone; a failed connect fails every waiting request; one sweep timer per pool, running
 * only while it has connections, ends connects that take too long and connections idle too long.
 * How a connection carries streams, and when it has room, is the subclass's.
 */
import type { ResponseDecoder } from '../http/codec';
import type { PoolStats } from '../stats/cluster-stats';
import type { CircuitBreaker } from './circuit-breakers';
import type { Host } from './host';
import { HostColumn, type HostTable } from './host-table';
import { PendingRequests, reportBytes, type ReportedBytes } from './pending-requests';
import {
  sweepIntervalMs,
  type Cancellable,
  type ConnPool,
  type PoolCallbacks,
  type PoolFailureReason,
} from './pool';

/** The options every pool has. */
export interface BasePoolOptions {
  /** Cluster connect_timeout. */
  connectTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout; 0 = idle connections stay open. */
  idleTimeoutMs: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** The cluster's circuit breaker for the priority this pool serves. */
  circuitBreaker: CircuitBreaker;
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** The cluster's upstream_cx_* stats in this worker (absent in the pools' unit tests). */
  stats?: PoolStats;
}

/** What the skeleton needs of a connection. */
export interface PooledConnection extends ReportedBytes {
  /** Connecting: when the connect times out; idle: when the idle timeout closes it. */
  deadline: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

export abstract class ConnPoolBase<C extends PooledConnection> implements ConnPool {
  protected readonly connections = new Set<C>();
  protected readonly pending: PendingRequests;
  protected closed = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly sweepMs: number;

  constructor(
    readonly host: Host,
    protected readonly table: HostTable,
    private readonly base: BasePoolOptions,
  ) {
    this.pending = new PendingRequests(base.circuitBreaker, base.stats);
    this.sweepMs = sweepIntervalMs(base.connectTimeoutMs, base.idleTimeoutMs);
  }

  newStream(decoder: ResponseDecoder, callbacks: PoolCallbacks): Cancellable | null {
    if (this.closed) {
      callbacks.onPoolFailure('connection_failure', 'pool closed');
      return null;
    }
    if (this.serveNow(decoder, callbacks)) return null;
    const waiting = this.pending.enqueue(decoder, callbacks);
    if (waiting !== null) this.openConnectionsForPending();
    return waiting;
  }

  close(): void {
    this.closed = true;
    this.pending.failAll('connection_failure', 'pool closed', false);
    for (const conn of [...this.connections]) this.closeConnection(conn);
  }

  abstract drain(): void;

  /**
   * Attaches the request to a connection with room, or fails it (max_requests overflow); false when
   * no connection has room (it then waits).
   */
  protected abstract serveNow(decoder: ResponseDecoder, callbacks: PoolCallbacks): boolean;
  /** Opens connections until the waiting requests will all have room (within max_connections). */
  protected abstract openConnectionsForPending(): void;
  /** Closes a connection the pool decided to close (as opposed to one the peer closed). */
  protected abstract closeConnection(conn: C): void;
  /** Closes a connection whose connect failed (its socket, or its session). */
  protected abstract destroyConnecting(conn: C): void;
  /** Removes a connection from the subclass's structures; then `released` does the rest. */
  protected abstract forget(conn: C): void;
  /** The sweep found `conn` past its deadline: a connect that takes too long, or an idle connection. */
  protected abstract expired(conn: C): void;

  /** A connection starts connecting: counted, and the sweep runs while there is one. */
  protected opened(conn: C, http2: boolean): void {
    this.connections.add(conn);
    this.table.add(this.host.slot, HostColumn.ActiveConnections, 1);
    this.base.stats?.connectionOpened(http2);
    if (this.sweepTimer === null) {
      this.sweepTimer = setInterval(this.sweep, this.sweepMs);
      this.sweepTimer.unref();
    }
  }

  /** A connect failed or timed out (`conn` was connecting): counted, and every waiting request fails. */
  protected connectFailed(conn: C, reason: PoolFailureReason, detail: string): void {
    this.table.add(this.host.slot, HostColumn.ConnectFailures, 1);
    this.base.stats?.connectFailed(reason === 'timeout');
    this.forget(conn);
    this.destroyConnecting(conn);
    this.pending.failAll(reason, detail, true);
  }

  /** The end of `forget`: the connection leaves the pool's counters (called once per connection). */
  protected released(conn: C): void {
    this.base.circuitBreaker.connectionClosed();
    this.connections.delete(conn);
    this.table.add(this.host.slot, HostColumn.ActiveConnections, -1);
    reportBytes(this.base.stats, conn, conn.bytesRead, conn.bytesWritten);
    this.base.stats?.connectionClosed();
    if (this.connections.size === 0 && this.sweepTimer !== null) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
  }

  /** A request attached to a connection ended (or its connection went): the counters it held. */
  protected requestEnded(): void {
    this.table.requestFinished(this.host.slot);
    this.base.circuitBreaker.endRequest();
  }

  /** When a connection that just became idle closes (Infinity: never). */
  protected idleDeadline(): number {
    const idleMs = this.base.idleTimeoutMs;
    return idleMs > 0 ? this.base.nowMs() + idleMs : Infinity;
  }

  protected connectTimeoutDetail(): string {
    return `connect timeout after ${this.base.connectTimeoutMs} ms`;
  }

  private readonly sweep = (): void => {
    const now = this.base.nowMs();
    // Byte totals move on the sweep's beat too, so long-lived connections show up before they close.
    for (const conn of [...this.connections]) {
      reportBytes(this.base.stats, conn, conn.bytesRead, conn.bytesWritten);
      if (conn.deadline <= now) this.expired(conn);
    }
  };
}
