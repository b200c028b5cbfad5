/**
 * One upstream connection attempt of a tcp_proxy session: picks a host of the session's cluster
 * through the cluster's load balancer, honours the cluster's `max_connections` circuit breaker
 * (shared with the HTTP pools, across workers) and `connect_timeout`, and keeps the shared per-host counters (active connections, connect failures)
 * and the cluster's `upstream_cx_*` stats. The HTTP connection pool is not involved: a TCP proxy
 * connection is never shared or reused.
 */
import * as net from 'node:net';
import type { TimeoutTarget, TimerWheel } from '../../../common/timer-wheel';
import type { Cluster } from '../../../upstream/cluster';
import type { Host } from '../../../upstream/host';
import { HostColumn, type HostTable } from '../../../upstream/host-table';
import type { LbContext } from '../../../upstream/lb/api';
import type { TcpClusterStats } from './stats';

export const enum ConnectFailure {
  /** The cluster's max_connections circuit breaker is open (upstream_cx_overflow): no attempt was made. */
  Overflow,
  /** No healthy host (upstream_cx_none_healthy): no attempt was made. */
  NoHealthyHost,
  /** The connect failed or timed out (upstream_cx_connect_fail); another attempt may succeed. */
  ConnectFailed,
}

/** The cluster a session sends to, with this worker's stats for it. */
export interface UpstreamTarget {
  readonly name: string;
  /** Undefined when the cluster does not exist (downstream_cx_no_route). */
  readonly cluster: Cluster | undefined;
  readonly stats: TcpClusterStats;
  readonly weight: number;
}

export interface UpstreamConnectCallbacks {
  /** Connected: the socket is the caller's from now on (its close still updates the counters). */
  onUpstreamConnected(socket: net.Socket): void;
  onUpstreamFailed(failure: ConnectFailure): void;
}

export class UpstreamConnect implements TimeoutTarget {
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  private socket: net.Socket | null = null;
  private host: Host | null = null;
  private connected = false;
  private failed = false;
  private startedMs = 0;

  constructor(
    private readonly target: UpstreamTarget & { readonly cluster: Cluster },
    private readonly table: HostTable,
    private readonly timers: TimerWheel,
    /** Monotonic milliseconds. */
    private readonly now: () => number,
    private readonly callbacks: UpstreamConnectCallbacks,
  ) {}

  /**
   * Starts the attempt; failures that need no connect are reported synchronously. With `paused`,
   * the socket never starts reading (the splice relay will read it instead).
   */
  start(lbContext: LbContext, paused: boolean): void {
    const host = openUpstream(this.target, this.table, lbContext);
    if (typeof host === 'number') {
      this.callbacks.onUpstreamFailed(host);
      return;
    }
    this.host = host;
    this.startedMs = this.now();
    const socket = net.connect({ host: host.address, port: host.port, noDelay: true, allowHalfOpen: true });
    if (paused) socket.pause();
    this.socket = socket;
    socket.once('connect', this.onConnect);
    // Stays attached after the connect: errors then belong to the relay, but one must never go
    // unheard (an 'error' without a listener kills the worker).
    socket.on('error', this.onError);
    socket.once('close', this.onClose);
    this.timers.arm(this, this.target.cluster.config.connectTimeoutMs);
  }

  /** The host this attempt chose, null if it chose none (no healthy host). */
  get chosenHost(): Host | null {
    return this.host;
  }

  /** Abandons an attempt still connecting (the downstream went away). */
  cancel(): void {
    this.timers.disarm(this);
    if (!this.connected) this.socket?.destroy();
  }

  onTimeout(): void {
    this.fail(true);
  }

  private readonly onConnect = (): void => {
    this.timers.disarm(this);
    this.connected = true;
    const now = this.now();
    this.table.recordRtt(this.host!.slot, now - this.startedMs, now);
    this.callbacks.onUpstreamConnected(this.socket!);
  };

  private readonly onError = (): void => {
    if (this.connected || this.failed) return;
    this.timers.disarm(this);
    this.fail(false);
  };

  private fail(timedOut: boolean): void {
    this.failed = true;
    upstreamConnectFailed(this.target, this.table, this.host!.slot, timedOut);
    this.socket!.removeListener('connect', this.onConnect);
    this.socket!.destroy();
    this.callbacks.onUpstreamFailed(ConnectFailure.ConnectFailed);
  }

  private readonly onClose = (): void => {
    upstreamClosed(this.target, this.table, this.host!.slot, this.connected);
  };
}

/*
 * The accounting of one upstream connection, shared with the engine's sessions (engine-sessions.ts),
 * which connect in C: open (host pick, circuit breaker, counts), connect failure, close.
 */

/**
 * Picks a host for a new upstream connection of `target` and counts it as open (host table,
 * circuit breaker, upstream_cx_total/active); or says why there is none (counting that too).
 */
export function openUpstream(
  target: UpstreamTarget & { readonly cluster: Cluster },
  table: HostTable,
  lbContext: LbContext,
): Host | ConnectFailure.NoHealthyHost | ConnectFailure.Overflow {
  const { cluster, stats } = target;
  const host = cluster.chooseHost(lbContext);
  if (host === null) {
    stats.cxNoneHealthy.inc();
    return ConnectFailure.NoHealthyHost;
  }
  // Counts upstream_cx_overflow itself when it refuses.
  if (!cluster.circuitBreaker.tryOpenConnection(false)) return ConnectFailure.Overflow;
  table.add(host.slot, HostColumn.ActiveConnections, 1);
  stats.cxTotal.inc();
  stats.cxActive.inc();
  return host;
}

/** An upstream connection opened by `openUpstream` failed to connect (it is then closed too). */
export function upstreamConnectFailed(
  target: UpstreamTarget,
  table: HostTable,
  slot: number,
  timedOut: boolean,
): void {
  if (timedOut) target.stats.cxConnectTimeout.inc();
  target.stats.cxConnectFail.inc();
  table.add(slot, HostColumn.ConnectFailures, 1);
}

/** An upstream connection opened by `openUpstream` closed (`connected`: after connecting). */
export function upstreamClosed(
  target: UpstreamTarget & { readonly cluster: Cluster },
  table: HostTable,
  slot: number,
  connected: boolean,
): void {
  target.cluster.circuitBreaker.connectionClosed();
  table.add(slot, HostColumn.ActiveConnections, -1);
  target.stats.cxActive.dec();
  if (connected) target.stats.cxDestroy.inc();
}
