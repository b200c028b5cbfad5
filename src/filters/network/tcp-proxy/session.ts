/**
 * One downstream connection through tcp_proxy (Envoy's TcpProxy::Filter for one connection):
 * connect upstream (up to max_connect_attempts, a fresh host each time), then relay until both
 * sides are done, enforcing the idle timeouts and max_downstream_connection_duration.
 *
 * The downstream does not read while the upstream connects (as Envoy, which read-disables it), so
 * nothing is buffered in the proxy before there is somewhere to send it. One timer-wheel entry per
 * session serves the connect timeout (inside UpstreamConnect), and, while relaying, a periodic
 * tick that publishes byte counts and checks idleness and the duration limit; the data path
 * itself touches no timer.
 *
 * With `access_log` configured, the session fills a ConnectionLogStream (upstream cluster and
 * host, Envoy's response flags NC/UH/UO/UF, byte counts, duration) and logs it once, when it ends.
 */
import type * as net from 'node:net';
import { ConnectionLogStream } from '../../../access-log/connection-log';
import { DRAIN_QUIET_MS } from '../../../common/drain';
import type { TimeoutTarget } from '../../../common/timer-wheel';
import { resumeReading, stopReading } from '../../../native';
import { joinHostPort } from '../../../router/header-format';
import type { LbContext } from '../../../upstream/lb/api';
import { JsRelay } from './js-relay';
import { RelayEnd, type Relay, type RelayOwner } from './relay';
import { SpliceRelay } from './splice-relay';
import { ConnectHandshake, type ConnectHandshakeCallbacks } from './connect-handshake';
import type { TcpProxyEnv } from './tcp-proxy';
import {
  ConnectFailure,
  UpstreamConnect,
  type UpstreamConnectCallbacks,
  type UpstreamTarget,
} from './upstream-connect';

const EMPTY = Buffer.alloc(0);
/** Byte counts reach the stats at least this often on a long transfer. */
const STATS_TICK_MS = 1000;
/** While draining, quietness is checked this often. */
const DRAIN_TICK_MS = 100;
/** Idleness is checked this many times per idle timeout (the timeout fires within 1/8 of it). */
const IDLE_CHECKS_PER_TIMEOUT = 8;
const MIN_TICK_MS = 50;

/** Envoy's response flag for each way the upstream connect can fail for good. */
const FAILURE_FLAGS: Record<ConnectFailure, string> = {
  [ConnectFailure.Overflow]: 'UO',
  [ConnectFailure.NoHealthyHost]: 'UH',
  [ConnectFailure.ConnectFailed]: 'UF',
};

const enum Phase {
  Connecting,
  Relaying,
  Done,
}

export class TcpProxySession
  implements UpstreamConnectCallbacks, ConnectHandshakeCallbacks, RelayOwner, TimeoutTarget
{
  timerDeadline = 0;
  timerBucket = -1;
  timerPrev: TimeoutTarget | null = null;
  timerNext: TimeoutTarget | null = null;
  private phase = Phase.Connecting;
  private attempts = 0;
  private connect: UpstreamConnect | null = null;
  /** tunneling_config: the proxy's answer to our CONNECT is awaited. */
  private handshake: ConnectHandshake | null = null;
  private relay: Relay | null = null;
  /** Connected, while the bytes listener filters read (`peeked`) are written to it. */
  private upstreamSendingPeeked: net.Socket | null = null;
  private target: UpstreamTarget | null = null;
  private readonly lbContext: LbContext;
  private readonly startedMs: number;
  private lastActiveMs: number;
  private reportedUp = 0;
  private reportedDown = 0;
  private reportedPauses = 0;
  private reportedResumes = 0;
  /** Null when the filter has no access loggers. */
  private readonly log: ConnectionLogStream | null;

  constructor(
    private readonly env: TcpProxyEnv,
    private readonly downstream: net.Socket,
    /** Bytes listener filters read (e.g. a ClientHello peeked by tls_inspector): sent upstream first. */
    private peeked: Buffer | null = null,
  ) {
    this.startedMs = env.now();
    this.lastActiveMs = this.startedMs;
    this.lbContext = env.lbContext(downstream);
    this.log = env.accessLoggers.length === 0 ? null : new ConnectionLogStream(downstream, this.startedMs);
  }

  start(): void {
    const { env, downstream } = this;
    env.stats.cxTotal.inc();
    downstream.allowHalfOpen = true;
    if (env.splice) stopReading(downstream);
    else downstream.pause();
    downstream.on('error', this.onDownstreamError);
    downstream.once('close', this.onDownstreamClose);
    const target = env.pickTarget();
    this.target = target;
    if (this.log !== null) this.log.upstreamCluster = target.name;
    if (target.cluster === undefined) {
      env.stats.cxNoRoute.inc();
      this.log?.addFlag('NC');
      this.finish();
      return;
    }
    this.connectNext();
  }

  /** The proxy drains: close now if idle, else once quiet or at the end of the grace (onTimeout). */
  startDrain(): void {
    if (this.phase !== Phase.Done) this.onTimeout();
  }

  /** Ends the session now (idle timeout, duration limit, drain): both connections are closed. */
  close(): void {
    if (this.phase === Phase.Relaying) this.relay!.close();
    this.finish();
  }

  onUpstreamConnected(upstream: net.Socket): void {
    this.noteUpstreamHost();
    const timeoutMs = this.target!.cluster!.config.connectTimeoutMs;
    this.connect = null;
    if (this.downstream.destroyed) {
      upstream.destroy();
      this.finish();
      return;
    }
    const tunnelHead = this.env.tunnelRequestHead?.forConnection(
      this.downstream,
      this.startedMs,
      this.env.now(),
    );
    if (tunnelHead !== undefined)
      this.handshake = new ConnectHandshake(upstream, tunnelHead, timeoutMs, this);
    else this.onTunnelEstablished(upstream, EMPTY);
  }

  /** The upstream is ready: plain TCP, or the tunneling proxy answered 2xx (`leftover`: its first bytes). */
  onTunnelEstablished(upstream: net.Socket, leftover: Buffer): void {
    this.handshake = null;
    if (this.downstream.destroyed) {
      upstream.destroy();
      this.finish();
      return;
    }
    // Written before the relay starts, so they come first (tunneled sessions relay in JS).
    if (leftover.length > 0) this.downstream.write(leftover);
    const peeked = this.peeked;
    if (peeked === null) {
      this.beginRelay(upstream);
      return;
    }
    // The relay (splice included) takes over once these bytes are on their way, so they come first.
    this.peeked = null;
    this.upstreamSendingPeeked = upstream;
    const onError = (): void => {};
    upstream.on('error', onError);
    upstream.write(peeked, (err) => {
      upstream.removeListener('error', onError);
      this.upstreamSendingPeeked = null;
      if (err || this.phase === Phase.Done || this.downstream.destroyed) {
        upstream.destroy();
        if (err) this.log?.addFlag('UF');
        this.finish();
        return;
      }
      this.beginRelay(upstream);
    });
  }

  private beginRelay(upstream: net.Socket): void {
    this.phase = Phase.Relaying;
    this.relay = this.startRelay(upstream);
    this.armTick();
  }

  /** The tunneling proxy gave no tunnel: Envoy closes the downstream (as a connect failure). */
  onTunnelFailed(_detail: string): void {
    this.handshake = null;
    this.log?.addFlag('UF');
    this.finish();
  }

  onUpstreamFailed(failure: ConnectFailure): void {
    this.noteUpstreamHost();
    this.connect = null;
    if (
      failure === ConnectFailure.ConnectFailed &&
      this.attempts < this.env.config.maxConnectAttempts &&
      !this.downstream.destroyed
    ) {
      this.connectNext();
      return;
    }
    this.log?.addFlag(FAILURE_FLAGS[failure]);
    this.finish();
  }

  onRelayEnd(_end: RelayEnd): void {
    this.publishBytes();
    this.phase = Phase.Done;
    this.env.timers.disarm(this);
    this.ended();
  }

  /** The relaying tick (stats, idle timeout, duration limit), and the drain's check. */
  onTimeout(): void {
    if (this.phase === Phase.Done) return;
    const now = this.env.now();
    const relaying = this.phase === Phase.Relaying;
    if (relaying && this.publishBytes()) this.lastActiveMs = now;
    const { idleTimeoutMs, config, stats, draining, drainDeadlineMs } = this.env;
    if (draining && (now - this.lastActiveMs >= DRAIN_QUIET_MS || now >= drainDeadlineMs)) {
      this.close();
      return;
    }
    if (!relaying) {
      // Connecting while draining: the connect has its own timeout; check quietness meanwhile.
      this.armTick();
      return;
    }
    if (idleTimeoutMs > 0 && now - this.lastActiveMs >= idleTimeoutMs) {
      stats.idleTimeout.inc();
      this.close();
      return;
    }
    const limit = config.maxDownstreamConnectionDurationMs;
    if (limit > 0 && now - this.startedMs >= limit) {
      stats.maxDuration.inc();
      this.close();
      return;
    }
    this.armTick();
  }

  private connectNext(): void {
    this.attempts++;
    const connect = new UpstreamConnect(
      this.target as UpstreamTarget & { cluster: NonNullable<UpstreamTarget['cluster']> },
      this.env.hostTable,
      this.env.timers,
      this.env.now,
      this,
    );
    this.connect = connect;
    connect.start(this.lbContext, this.env.splice);
  }

  /** The splice relay when this listener may use it, else (or if it cannot start) the JS relay. */
  private startRelay(upstream: net.Socket): Relay {
    const { env, downstream } = this;
    if (env.splice && downstream.readableLength === 0) {
      try {
        stopReading(upstream);
        return new SpliceRelay(downstream, upstream, env.bufferLimit, this);
      } catch {
        // e.g. EMFILE (half the fd limit in use, or the pipes): this connection relays in JS
        // instead, and libuv must read both sockets again.
        resumeReading(downstream);
        resumeReading(upstream);
      }
    }
    return new JsRelay(downstream, upstream, env.bufferLimit, env.stats, this);
  }

  private armTick(): void {
    const { idleTimeoutMs, config } = this.env;
    let ms = this.env.draining ? DRAIN_TICK_MS : STATS_TICK_MS;
    if (idleTimeoutMs > 0) ms = Math.min(ms, Math.max(MIN_TICK_MS, idleTimeoutMs / IDLE_CHECKS_PER_TIMEOUT));
    const limit = config.maxDownstreamConnectionDurationMs;
    if (limit > 0) ms = Math.min(ms, Math.max(1, this.startedMs + limit - this.env.now()));
    this.env.timers.arm(this, ms);
  }

  /** Adds the bytes moved (and flow-control pauses) since the last call to the stats; true if any bytes moved. */
  private publishBytes(): boolean {
    const relay = this.relay!;
    relay.sample();
    const paused = relay.downstreamReadingPaused - this.reportedPauses;
    const resumed = relay.downstreamReadingResumed - this.reportedResumes;
    if (paused !== 0 || resumed !== 0) {
      this.reportedPauses = relay.downstreamReadingPaused;
      this.reportedResumes = relay.downstreamReadingResumed;
      this.env.stats.pausedReading.add(paused);
      this.env.stats.resumedReading.add(resumed);
    }
    const up = relay.toUpstream - this.reportedUp;
    const down = relay.toDownstream - this.reportedDown;
    if (up === 0 && down === 0) return false;
    this.reportedUp = relay.toUpstream;
    this.reportedDown = relay.toDownstream;
    const { stats } = this.env;
    const cluster = this.target!.stats;
    stats.rxBytes.add(up);
    cluster.txBytes.add(up);
    stats.txBytes.add(down);
    cluster.rxBytes.add(down);
    return true;
  }

  /** Before the relay: the downstream failed; the relay handles errors once it runs. */
  private readonly onDownstreamError = (): void => {
    if (this.phase === Phase.Connecting) this.finish();
  };

  private readonly onDownstreamClose = (): void => {
    if (this.phase === Phase.Connecting) this.finish();
  };

  /** Ends a session that has no relay running (or whose relay was closed), closing the downstream. */
  private finish(): void {
    if (this.phase === Phase.Done) return;
    const relaying = this.phase === Phase.Relaying;
    this.phase = Phase.Done;
    this.env.timers.disarm(this);
    this.connect?.cancel();
    this.connect = null;
    this.handshake?.cancel();
    this.handshake = null;
    this.upstreamSendingPeeked?.destroy();
    if (relaying) this.publishBytes();
    this.downstream.destroy();
    this.ended();
  }

  /** Records the host of the current connect attempt (the last one is what Envoy logs). */
  private noteUpstreamHost(): void {
    const host = this.connect?.chosenHost;
    if (this.log !== null && host) this.log.upstreamHost = joinHostPort(host.address, host.port);
  }

  /** The session is over (its byte counts are published): log it, and tell the filter. */
  private ended(): void {
    const { env, relay } = this;
    this.log?.logEnd(env.now(), relay?.toUpstream ?? 0, relay?.toDownstream ?? 0, env.accessLoggers);
    this.env.sessionEnded(this);
  }
}
