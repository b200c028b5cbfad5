/**
 * The tcp_proxy network filter on one worker for one listener: a terminal filter that takes each
 * accepted socket and proxies it to an upstream cluster as a `TcpProxySession`.
 *
 * Where sessions run: on the native engine (engine-sessions.ts: accepted, connected and spliced in
 * C) when nothing needs a Node socket per connection (the filters before tcp_proxy, if any, decide
 * in `admitsConnection`; `engineIneligibility`); else on Node sockets, relayed by the native splice relay when the addon
 * provides it and no filter before tcp_proxy needs to see the bytes (none, or only `connectionOnly`
 * ones), else by the JS streams relay.
 */
import type * as net from 'node:net';
import { createAccessLoggers } from '../../../access-log/access-logs';
import type { AccessLogger } from '../../../access-log/api';
import { TCP_PROXY_DRAIN_GRACE_MS } from '../../../common/drain';
import type { NativeEngine } from '../../../engine/native-engine';
import { log } from '../../../common/log';
import type { TimerWheel } from '../../../common/timer-wheel';
import { spliceRelayAvailable } from '../../../native';
import { ConnectRequestHead } from './connect-handshake';
import { downstreamInfoOf } from '../../../transport/api';
import type { HostTable } from '../../../upstream/host-table';
import { xxHash32 } from '../../../upstream/lb/hash';
import { NO_LB_CONTEXT, type LbContext } from '../../../upstream/lb/api';
import type { WorkerServices } from '../../../worker/services';
import {
  FilterStatus,
  type NetworkFilterContext,
  type NetworkFilterFactory,
  type TerminalNetworkFilter,
} from '../api';
import type { TcpProxyConfig } from './config';
import { EngineTcpProxySessions, type EngineSessionHooks, type EngineTargets } from './engine-sessions';
import { TcpProxySession } from './session';
import { TcpClusterStats, TcpProxyStats } from './stats';
import type { UpstreamTarget } from './upstream-connect';

/** What every session of one tcp_proxy filter shares (built once per worker per listener). */
export interface TcpProxyEnv {
  readonly config: TcpProxyConfig;
  readonly stats: TcpProxyStats;
  readonly hostTable: HostTable;
  readonly timers: TimerWheel;
  /** The effective idle timeout: the shortest of idle_timeout, downstream_ and upstream_idle_timeout set. */
  readonly idleTimeoutMs: number;
  /** per_connection_buffer_limit_bytes of the listener: bytes in flight per direction. */
  readonly bufferLimit: number;
  /** Whether sessions use the splice relay. */
  readonly splice: boolean;
  /** tunneling_config's CONNECT request head, or null: the upstream is plain TCP. */
  readonly tunnelRequestHead: ConnectRequestHead | null;
  /** `access_log[]` of this filter; sessions keep no log state when it is empty. */
  readonly accessLoggers: readonly AccessLogger[];
  /** Set by drain(): sessions close once quiet, and at `drainDeadlineMs` at the latest. */
  readonly draining: boolean;
  readonly drainDeadlineMs: number;
  now(): number;
  pickTarget(): UpstreamTarget;
  lbContext(downstream: net.Socket): LbContext;
  sessionEnded(session: TcpProxySession): void;
}

export class TcpProxyFilter implements TerminalNetworkFilter, TcpProxyEnv, EngineTargets {
  readonly stats: TcpProxyStats;
  readonly hostTable: HostTable;
  readonly timers: TimerWheel;
  readonly idleTimeoutMs: number;
  readonly bufferLimit: number;
  readonly splice: boolean;
  readonly tunnelRequestHead: ConnectRequestHead | null;
  readonly accessLoggers: AccessLogger[];
  readonly targets: UpstreamTarget[];
  private readonly totalWeight: number;
  private readonly sessions = new Set<TcpProxySession>();
  private readonly random: () => number;
  readonly now: () => number;
  draining = false;
  drainDeadlineMs = 0;
  private drained: (() => void) | null = null;
  /** Set when the native engine runs this listener's sessions. */
  private engineSessions: EngineTcpProxySessions | null = null;
  private readonly workerIndex: number;
  private readonly listenerName: string;

  constructor(
    readonly config: TcpProxyConfig,
    ctx: NetworkFilterContext,
  ) {
    const services = ctx.services as WorkerServices;
    this.stats = new TcpProxyStats(services.stats, config.statPrefix);
    this.hostTable = services.hostTable;
    this.timers = services.timers;
    this.random = services.random;
    this.now = services.now;
    this.idleTimeoutMs = effectiveIdleTimeout(config);
    this.bufferLimit = ctx.listener.perConnectionBufferLimitBytes;
    // A tunnel's first upstream bytes (after the proxy's answer) pass through JS: no splice.
    this.splice =
      config.tunneling === null && onlyConnectionFiltersBefore(ctx, services) && spliceRelayAvailable();
    this.tunnelRequestHead = config.tunneling === null ? null : new ConnectRequestHead(config.tunneling);
    this.targets = config.clusters.map((c) => ({
      name: c.name,
      cluster: services.clusterManager.get(c.name),
      stats: new TcpClusterStats(services.stats, c.name),
      weight: c.weight,
    }));
    this.accessLoggers = createAccessLoggers(config.accessLog, services.registry, services.accessLogSinks);
    this.totalWeight = this.targets.reduce((sum, t) => sum + t.weight, 0);
    this.workerIndex = ctx.workerIndex;
    this.listenerName = ctx.listener.name;
  }

  /**
   * Why the native engine cannot run these sessions (so the listener stays on Node sockets), or
   * null: what it does not carry into C needs a Node socket or the downstream address per connection.
   */
  engineIneligibility(): string | null {
    if (this.accessLoggers.length > 0) return 'tcp_proxy access_log';
    if (this.config.hashSourceIp) return 'hash_policy source_ip';
    if (this.config.tunneling !== null) return 'tunneling_config';
    return null;
  }

  /** Logs (once, from worker 0) how this listener's sessions are served; `engineOff`: why not on the engine. */
  logDataPath(onEngine: boolean, engineOff: string | null): void {
    if (this.workerIndex !== 0) return;
    const how = onEngine
      ? 'runs on the native engine (accept, connect and splice in C)'
      : `relays with ${this.splice ? 'splice' : 'JS streams'}${engineOff ? ` (not on the native engine: ${engineOff})` : ''}`;
    log.info(`listener '${this.listenerName}': tcp_proxy '${this.config.statPrefix}' ${how}`);
  }

  /** Runs the sessions on `engine`, accepting on `fd` (-1: handed-over fds only); the engine listener id. */
  listenOnEngine(engine: NativeEngine, fd: number, hooks: EngineSessionHooks): number {
    this.engineSessions = new EngineTcpProxySessions(this, engine, hooks);
    return this.engineSessions.listen(fd);
  }

  /** exact_balance on the engine: the session id of a handed-over fd (-1: it could not start). */
  adoptOnEngine(fd: number): number {
    return this.engineSessions!.adopt(fd);
  }

  onNewConnection(socket: net.Socket, peeked: Buffer | null): FilterStatus {
    const session = new TcpProxySession(this, socket, peeked);
    this.sessions.add(session);
    session.start();
    if (this.draining) session.startDrain();
    return FilterStatus.StopIteration;
  }

  /**
   * Idle sessions (no byte either way for DRAIN_QUIET_MS) close at once, busy ones once they are
   * that quiet or after TCP_PROXY_DRAIN_GRACE_MS (see common/drain.ts); `done` runs when the last
   * one has ended.
   */
  drain(done: () => void): void {
    this.draining = true;
    this.drainDeadlineMs = this.now() + TCP_PROXY_DRAIN_GRACE_MS;
    if (this.engineSessions !== null) {
      this.engineSessions.drain(done);
      return;
    }
    if (this.sessions.size === 0) {
      done();
      return;
    }
    this.drained = done;
    for (const session of this.sessions) session.startDrain();
  }

  pickTarget(): UpstreamTarget {
    return this.targets[this.pickTargetIndex()]!;
  }

  /** weighted_clusters: a target at random, in proportion to its weight. */
  pickTargetIndex(): number {
    if (this.targets.length === 1) return 0;
    let point = this.random() * this.totalWeight;
    for (let i = 0; i < this.targets.length; i++) {
      point -= this.targets[i]!.weight;
      if (point < 0) return i;
    }
    return this.targets.length - 1;
  }

  lbContext(downstream: net.Socket): LbContext {
    if (!this.config.hashSourceIp) return NO_LB_CONTEXT;
    // The client's address: a PROXY protocol header's when the listener restored one.
    const source = downstreamInfoOf.get(downstream)?.addresses?.remoteAddress ?? downstream.remoteAddress;
    return source === undefined ? NO_LB_CONTEXT : { hashKey: xxHash32(source) };
  }

  sessionEnded(session: TcpProxySession): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0 && this.drained !== null) {
      const done = this.drained;
      this.drained = null;
      done();
    }
  }
}

function effectiveIdleTimeout(config: TcpProxyConfig): number {
  const set = [config.idleTimeoutMs, config.downstreamIdleTimeoutMs, config.upstreamIdleTimeoutMs].filter(
    (ms) => ms > 0,
  );
  return set.length === 0 ? 0 : Math.min(...set);
}

/**
 * Whether the bytes are the socket's own (no TLS termination on the chain) and the filters before
 * tcp_proxy (if any) never need them, so splice may move them.
 */
function onlyConnectionFiltersBefore(ctx: NetworkFilterContext, services: WorkerServices): boolean {
  if (ctx.chain.transportSocket !== null) return false;
  const filters = ctx.chain.filters;
  for (let i = 0; i < filters.length - 1; i++) {
    const factory = services.registry.get('network_filter', filters[i]!.name) as NetworkFilterFactory;
    if (factory.connectionOnly !== true) return false;
  }
  return true;
}
