/**
 * The HTTP/1.1 keep-alive connection pool of one host in one worker (Envoy's `Http1::ConnPoolImpl`).
 *
 * - `newStream` hands out an idle connection synchronously when there is one, the most recently
 *   used first (LIFO: warm sockets stay warm, cold ones reach the idle timeout and close). Otherwise
 *   the request waits in a bounded FIFO queue and a connection is opened for it (one per waiting
 *   request, up to `maxConnections`); the next connection that connects or frees up takes it.
 * - A failed or timed-out connect fails every waiting request (as Envoy purges its pending list),
 *   so the router can retry or answer 503 instead of waiting on a host that does not answer.
 * - A connection is closed after `maxRequestsPerConnection` requests, when either side asked for
 *   close, after `idleTimeoutMs` unused, and on `drain()` (busy ones when their request completes).
 *   An idle connection the upstream closes is simply forgotten. A connection returns to the idle
 *   list, and leaves it, only while its codec says it is `reusable` (clean as a fresh one); one
 *   that is not is closed rather than handed to the next request.
 * - One coarse sweep timer per pool, running only while the pool has connections, enforces both
 *   connect and idle timeouts (precision: a tenth of the shorter timeout, 10 ms to 1 s).
 * - The shared host table counts per host: active connections (connecting or open), connect
 *   failures, and active/total requests. The pool owns the request counters (a request is active
 *   from attach to completion or reset), so callers must not count requests there themselves.
 * - The cluster's circuit breaker (global across workers) bounds waiting requests
 *   (max_pending_requests: overflow at once), requests attached to connections (max_requests: a
 *   request that would exceed it fails with overflow, even when a connection is free, as in Envoy)
 *   and connections (max_connections: requests wait for a busy one instead, except that a pool with
 *   no connection may always open one). The pool takes and gives back those units itself.
 */
import type { ClientConnection, ClientConnectionCallbacks, ResponseDecoder } from '../http/codec';
import type { ConnectHandler, ConnectOptions, UpstreamConnector, UpstreamTransport } from './transport';
import type { Host } from './host';
import type { HostTable } from './host-table';
import { MAX_REQUESTS_OVERFLOW, type PoolCallbacks, type PoolFailureReason } from './pool';
import { ConnPoolBase, type BasePoolOptions, type PooledConnection } from './pool-base';

export interface ConnPoolOptions extends BasePoolOptions {
  /** Opens connections to the host (TCP with Legate's JS codec, or the native engine's). */
  connector: UpstreamConnector;
  /** What this pool asks of each connection (auto_sni's server name). */
  connect?: ConnectOptions;
}

const enum ConnState {
  Connecting,
  Idle,
  Busy,
  Closed,
}

/** One upstream connection and its place in the pool. */
class PoolConnection implements ConnectHandler, ClientConnectionCallbacks, PooledConnection {
  state = ConnState.Connecting;
  codec: ClientConnection | null = null;
  transport!: UpstreamTransport;
  /** Requests attached so far (for max_requests_per_connection and `reused`). */
  streamsStarted = 0;
  /** Close when the current request completes (drain). */
  draining = false;
  /** Connecting: when the connect times out. Idle: when the idle timeout closes it. */
  deadline: number;
  /** socket.bytesRead / bytesWritten already added to the cluster stats. */
  rxReported = 0;
  txReported = 0;

  constructor(
    private readonly pool: Http1ConnPool,
    connectDeadline: number,
  ) {
    this.deadline = connectDeadline;
  }

  // A tunnel the splice relay moved bypassed the socket's counts.
  get bytesRead(): number {
    return this.transport.bytesRead + (this.codec?.splicedBytesRead ?? 0);
  }

  get bytesWritten(): number {
    return this.transport.bytesWritten + (this.codec?.splicedBytesWritten ?? 0);
  }

  onConnected(codec: ClientConnection): void {
    this.codec = codec;
    this.pool.onConnected(this);
  }

  onConnectFailed(detail: string): void {
    this.pool.onConnectFailed(this, 'connection_failure', detail);
  }

  onStreamComplete(reusable: boolean): void {
    this.pool.onStreamComplete(this, reusable);
  }

  onProtocolError(): void {
    this.pool.onProtocolError();
  }

  onClose(): void {
    this.pool.onConnectionClosed(this);
  }
}

export class Http1ConnPool extends ConnPoolBase<PoolConnection> {
  /** Idle connections, most recently used last (popped first). */
  private readonly idle: PoolConnection[] = [];
  private readonly connecting: PoolConnection[] = [];

  constructor(
    host: Host,
    table: HostTable,
    private readonly options: ConnPoolOptions,
  ) {
    super(host, table, options);
  }

  protected serveNow(decoder: ResponseDecoder, callbacks: PoolCallbacks): boolean {
    const conn = this.popIdle();
    if (conn === null) return false;
    if (!this.attach(conn, decoder, callbacks)) {
      this.idle.push(conn);
      callbacks.onPoolFailure('overflow', MAX_REQUESTS_OVERFLOW);
    }
    return true;
  }

  /** Connections still connecting (opened for waiting requests) serve those. */
  drain(): void {
    for (const conn of this.idle.splice(0)) this.closeConnection(conn);
    for (const conn of this.connections) if (conn.state !== ConnState.Connecting) conn.draining = true;
  }

  get pendingCount(): number {
    return this.pending.length;
  }
  get idleCount(): number {
    return this.idle.length;
  }
  get connectingCount(): number {
    return this.connecting.length;
  }
  /** Connections connecting, idle or busy. */
  get connectionCount(): number {
    return this.connections.size;
  }

  // ------------------------------------------------------------ called by PoolConnection / PendingStream

  onConnected(conn: PoolConnection): void {
    if (conn.state !== ConnState.Connecting) return;
    removeFrom(this.connecting, conn);
    this.options.stats?.connected(this.options.nowMs() - (conn.deadline - this.options.connectTimeoutMs));
    this.onConnectionFree(conn);
  }

  onConnectFailed(conn: PoolConnection, reason: PoolFailureReason, detail: string): void {
    if (conn.state === ConnState.Connecting) this.connectFailed(conn, reason, detail);
  }

  onStreamComplete(conn: PoolConnection, reusable: boolean): void {
    if (conn.state !== ConnState.Busy) return;
    this.requestEnded();
    conn.state = ConnState.Idle;
    const max = this.options.maxRequestsPerConnection;
    if (!reusable || !conn.codec!.reusable || (max > 0 && conn.streamsStarted >= max)) this.retire(conn);
    // The codec calls this outside its parser, so the next request may start here at once.
    else this.onConnectionFree(conn);
  }

  onProtocolError(): void {
    this.options.stats?.protocolError();
  }

  onConnectionClosed(conn: PoolConnection): void {
    if (conn.state === ConnState.Closed) return;
    this.forget(conn);
    this.openConnectionsForPending();
  }

  // ------------------------------------------------------------ internals

  /** An open connection has no request: give it the oldest waiting one, else park it (or close it). */
  private onConnectionFree(conn: PoolConnection): void {
    conn.state = ConnState.Idle;
    if (conn.draining) {
      this.retire(conn);
      return;
    }
    for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
      if (this.attach(conn, next.decoder, next.callbacks)) return;
      // max_requests refused it: it fails (as in Envoy) and the connection stays free for the next.
      next.callbacks.onPoolFailure('overflow', MAX_REQUESTS_OVERFLOW);
      if (conn.state !== ConnState.Idle) return; // the failure callback closed the pool
    }
    conn.deadline = this.idleDeadline();
    this.idle.push(conn);
  }

  private popIdle(): PoolConnection | null {
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      // The upstream may have closed it a moment ago, before the close event was processed.
      if (conn.transport.writable && conn.codec!.reusable) return conn;
      this.closeConnection(conn);
    }
    return null;
  }

  /** Attaches the request if max_requests allows it; otherwise changes nothing and returns false. */
  private attach(conn: PoolConnection, decoder: ResponseDecoder, callbacks: PoolCallbacks): boolean {
    if (!this.options.circuitBreaker.tryStartRequest()) return false;
    const reused = conn.streamsStarted > 0;
    conn.state = ConnState.Busy;
    conn.streamsStarted++;
    this.table.requestStarted(this.host.slot);
    callbacks.onPoolReady(conn.codec!.newStream(decoder), this.host, reused);
    return true;
  }

  /** Opens connections until every waiting request has one on its way (within max_connections). */
  protected openConnectionsForPending(): void {
    while (!this.closed && this.connecting.length < this.pending.length) {
      if (!this.options.circuitBreaker.tryOpenConnection(this.connections.size === 0)) return;
      this.connect();
    }
  }

  private connect(): void {
    const conn = new PoolConnection(this, this.options.nowMs() + this.options.connectTimeoutMs);
    this.connecting.push(conn);
    this.opened(conn, false);
    conn.transport = this.options.connector(this.host.address, this.host.port, conn, this.options.connect);
  }

  /** Closes a connection that may serve no more requests, replacing it if requests wait. */
  private retire(conn: PoolConnection): void {
    this.closeConnection(conn);
    this.openConnectionsForPending();
  }

  protected closeConnection(conn: PoolConnection): void {
    if (conn.state === ConnState.Closed) return;
    this.forget(conn);
    if (conn.codec !== null) conn.codec.close();
    else conn.transport.destroy();
  }

  protected destroyConnecting(conn: PoolConnection): void {
    conn.transport.destroy();
  }

  /** Removes a connection from every structure and counter. Idempotent through `state`. */
  protected forget(conn: PoolConnection): void {
    const was = conn.state;
    if (was === ConnState.Closed) return;
    conn.state = ConnState.Closed;
    if (was === ConnState.Idle) removeFrom(this.idle, conn);
    else if (was === ConnState.Connecting) removeFrom(this.connecting, conn);
    else if (was === ConnState.Busy) this.requestEnded();
    this.released(conn);
  }

  /** A busy connection's deadline is stale (its request has the route's timeouts). */
  protected expired(conn: PoolConnection): void {
    if (conn.state === ConnState.Connecting)
      this.onConnectFailed(conn, 'timeout', this.connectTimeoutDetail());
    else if (conn.state === ConnState.Idle) this.closeConnection(conn);
  }
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i !== -1) list.splice(i, 1);
}
