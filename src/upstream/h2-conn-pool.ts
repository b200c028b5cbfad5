/**
 * The HTTP/2 connection pool of one host in one worker (Envoy's multiplexing `Http2::ConnPoolImpl`):
 * streams share connections, up to the lower of the peer's SETTINGS_MAX_CONCURRENT_STREAMS and the
 * cluster's `max_concurrent_streams` per connection; beyond that, another connection opens (within
 * max_connections). Requests wait in a bounded queue while connections connect.
 *
 * - A connection serves `max_requests_per_connection` streams at most, then drains; GOAWAY from the
 *   upstream drains it too (no new streams; those in flight finish). Drained connections close once
 *   their last stream ends; idle ones after `idleTimeoutMs`.
 * - A failed or timed-out connect fails every waiting request, as the HTTP/1.1 pool does.
 * - Circuit breakers count streams (max_requests), waiting requests (max_pending_requests) and
 *   connections (max_connections); the host table counts active connections and requests.
 * - Connections are opened by the cluster's socket connector: h2c with prior knowledge on TCP, or
 *   TLS (offering ALPN `h2` unless the cluster's `alpn_protocols` say otherwise); the session
 *   starts once the socket is connected (and, through TLS, the host verified).
 */
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { ResponseDecoder } from '../http/codec';
import { Http2ClientStream, type ClientStreamOwner } from '../http/h2/client-stream';
import { Http2Keepalive } from '../http/h2/keepalive';
import type { Http2ProtocolOptions } from '../config/http2-options';
import type { Host } from './host';
import type { HostTable } from './host-table';
import { MAX_REQUESTS_OVERFLOW, type PoolCallbacks, type PoolFailureReason } from './pool';
import { ConnPoolBase, type BasePoolOptions, type PooledConnection } from './pool-base';
import type { ConnectOptions, SocketConnector, UpstreamTransport } from './transport';

export interface Http2ConnPoolOptions extends BasePoolOptions {
  http2: Readonly<Http2ProtocolOptions>;
  /** Opens the sockets (TCP, or the cluster's TLS). */
  connector: SocketConnector;
  /** What this pool asks of each connection: ALPN `h2`, and auto_sni's server name. */
  connect: ConnectOptions;
  /** `:scheme` of the requests: https through TLS. */
  scheme: 'http' | 'https';
}

const enum State {
  Connecting,
  Ready,
  /** No new streams (GOAWAY, max_requests_per_connection, drain): closes after the last one. */
  Draining,
  Closed,
}

class H2Connection implements ClientStreamOwner, PooledConnection {
  state = State.Connecting;
  active = 0;
  started = 0;
  /** Streams this connection may carry at once (the peer's limit once its SETTINGS arrived). */
  maxStreams: number;
  /** Connecting: the connect deadline; idle: when the idle timeout closes it. */
  deadline: number;
  readonly openedAt: number;
  rxReported = 0;
  txReported = 0;
  /** connection_keepalive, once connected (null when not configured). */
  keepalive: Http2Keepalive | null = null;
  /** The socket being opened, then open. */
  transport: UpstreamTransport | null = null;
  /** Started once the socket is connected. */
  session: http2.ClientHttp2Session | null = null;

  constructor(
    private readonly pool: Http2ConnPool,
    readonly scheme: 'http' | 'https',
    now: number,
    connectTimeoutMs: number,
    configuredStreams: number,
  ) {
    this.maxStreams = configuredStreams;
    this.openedAt = now;
    this.deadline = now + connectTimeoutMs;
  }

  get bytesRead(): number {
    return this.transport?.bytesRead ?? 0;
  }

  get bytesWritten(): number {
    return this.transport?.bytesWritten ?? 0;
  }

  /** Closes the session, or the socket still connecting. */
  destroy(): void {
    if (this.session !== null) this.session.destroy();
    else this.transport?.destroy();
  }

  get hasCapacity(): boolean {
    return this.state === State.Ready && this.active < this.maxStreams;
  }

  streamDone(_stream: Http2ClientStream, _refused: boolean): void {
    this.pool.onStreamDone(this);
  }
}

export class Http2ConnPool extends ConnPoolBase<H2Connection> {
  constructor(
    host: Host,
    table: HostTable,
    private readonly options: Http2ConnPoolOptions,
  ) {
    super(host, table, options);
  }

  protected serveNow(decoder: ResponseDecoder, callbacks: PoolCallbacks): boolean {
    for (const conn of this.connections) {
      if (!conn.hasCapacity) continue;
      if (!this.attach(conn, decoder, callbacks)) callbacks.onPoolFailure('overflow', MAX_REQUESTS_OVERFLOW);
      return true;
    }
    return false;
  }

  drain(): void {
    for (const conn of [...this.connections]) {
      if (conn.state === State.Ready) conn.state = State.Draining;
      if (conn.state === State.Draining && conn.active === 0) this.closeConnection(conn);
    }
  }

  // ------------------------------------------------------------ called by connections and streams

  onStreamDone(conn: H2Connection): void {
    if (conn.active === 0) return;
    conn.active--;
    this.requestEnded();
    if (conn.state === State.Closed) return;
    const max = this.options.maxRequestsPerConnection;
    if (max > 0 && conn.started >= max && conn.state === State.Ready) conn.state = State.Draining;
    if (conn.state === State.Draining) {
      if (conn.active === 0) this.closeConnection(conn);
      this.openConnectionsForPending();
      return;
    }
    this.servePending(conn);
    if (conn.active === 0) conn.deadline = this.idleDeadline();
  }

  // ------------------------------------------------------------ internals

  private attach(conn: H2Connection, decoder: ResponseDecoder, callbacks: PoolCallbacks): boolean {
    if (!this.options.circuitBreaker.tryStartRequest()) return false;
    conn.active++;
    conn.started++;
    this.table.requestStarted(this.host.slot);
    const max = this.options.maxRequestsPerConnection;
    if (max > 0 && conn.started >= max) conn.state = State.Draining;
    callbacks.onPoolReady(new Http2ClientStream(conn.session!, decoder, conn), this.host, conn.started > 1);
    return true;
  }

  /** Gives waiting requests to `conn` while it has room. */
  private servePending(conn: H2Connection): void {
    while (this.pending.length > 0 && conn.hasCapacity) {
      const next = this.pending.shift()!;
      if (!this.attach(conn, next.decoder, next.callbacks))
        next.callbacks.onPoolFailure('overflow', MAX_REQUESTS_OVERFLOW);
    }
  }

  /** Opens connections until the ones connecting can take every waiting request (within max_connections). */
  protected openConnectionsForPending(): void {
    const perConnection = this.options.http2.maxConcurrentStreams;
    let connecting = 0;
    for (const conn of this.connections) if (conn.state === State.Connecting) connecting++;
    while (!this.closed && connecting * perConnection < this.pending.length) {
      if (!this.options.circuitBreaker.tryOpenConnection(this.connections.size === 0)) return;
      this.connect();
      connecting++;
    }
  }

  private connect(): void {
    const { address, port } = this.host;
    const o = this.options;
    const conn = new H2Connection(
      this,
      o.scheme,
      o.nowMs(),
      o.connectTimeoutMs,
      o.http2.maxConcurrentStreams,
    );
    this.opened(conn, true);
    conn.transport = o.connector(
      address,
      port,
      {
        onConnected: (socket) => this.startSession(conn, socket),
        onConnectFailed: (detail) => this.onConnectFailed(conn, 'connection_failure', detail),
      },
      o.connect,
    );
  }

  /** The socket is connected: the HTTP/2 session starts on it (ready once the peer's SETTINGS came). */
  private startSession(conn: H2Connection, socket: net.Socket): void {
    if (conn.state !== State.Connecting) {
      socket.destroy(); // timed out, or the pool closed, while it connected
      return;
    }
    const { address, port } = this.host;
    const o = this.options;
    const authority = `${conn.scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`;
    const session = http2.connect(authority, {
      createConnection: () => socket,
      settings: {
        initialWindowSize: o.http2.initialStreamWindowSize,
        headerTableSize: o.http2.hpackTableSize,
        enablePush: false,
      },
    });
    conn.session = session;
    // Ready once the peer's SETTINGS arrived: until then its stream limit is unknown (Node would
    // assume 100, and a smaller limit would refuse the streams sent beyond it).
    session.on('remoteSettings', (settings: http2.Settings) => {
      conn.maxStreams = Math.min(o.http2.maxConcurrentStreams, settings.maxConcurrentStreams ?? Infinity);
      if (conn.state === State.Connecting) this.onConnected(conn);
      else if (conn.state === State.Ready) this.servePending(conn);
    });
    session.on('goaway', () => {
      if (conn.state === State.Ready) conn.state = State.Draining;
      this.openConnectionsForPending();
    });
    session.on('error', (err: NodeJS.ErrnoException) => {
      if (conn.state === State.Connecting)
        this.onConnectFailed(conn, 'connection_failure', `connect error: ${err.code ?? err.message}`);
    });
    session.on('close', () => {
      if (conn.state === State.Connecting)
        this.onConnectFailed(conn, 'connection_failure', 'connection closed');
      else this.forget(conn);
      this.openConnectionsForPending();
    });
  }

  private onConnected(conn: H2Connection): void {
    if (conn.state !== State.Connecting) return;
    const o = this.options;
    conn.state = State.Ready;
    o.stats?.connected(o.nowMs() - conn.openedAt);
    // An unanswered PING closes the connection; its streams are reset and may be retried.
    const session = conn.session!;
    if (o.http2.keepaliveIntervalMs > 0)
      conn.keepalive = new Http2Keepalive(session, o.http2, () => this.closeConnection(conn));
    if (o.http2.initialConnectionWindowSize > 65_535)
      session.setLocalWindowSize(o.http2.initialConnectionWindowSize);
    this.servePending(conn);
    if (conn.active === 0) conn.deadline = this.idleDeadline();
    // More waiting than this connection takes: open another.
    this.openConnectionsForPending();
  }

  private onConnectFailed(conn: H2Connection, reason: PoolFailureReason, detail: string): void {
    if (conn.state === State.Connecting) this.connectFailed(conn, reason, detail);
  }

  protected closeConnection(conn: H2Connection): void {
    if (conn.state === State.Closed) return;
    this.forget(conn);
    conn.destroy();
  }

  protected destroyConnecting(conn: H2Connection): void {
    conn.destroy();
  }

  /** Removes a connection from every structure and counter (its streams get their resets from Node). */
  protected forget(conn: H2Connection): void {
    if (conn.state === State.Closed) return;
    conn.state = State.Closed;
    conn.keepalive?.stop();
    // Streams still counted end without their own done (the session is gone).
    for (; conn.active > 0; conn.active--) this.requestEnded();
    this.released(conn);
  }

  protected expired(conn: H2Connection): void {
    if (conn.state === State.Connecting) this.onConnectFailed(conn, 'timeout', this.connectTimeoutDetail());
    else if (conn.active === 0) this.closeConnection(conn);
  }
}
