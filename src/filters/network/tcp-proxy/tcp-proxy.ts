/**
 * The tcp_proxy network filter on one worker for one listener: a terminal filter that takes each
 * accepted socket and proxies it to an upstream cluster as a `TcpProxySession`.
 *
 * Relay choice: the native splice relay when the addon provides it and no filter before tcp_proxy
 * needs to see the bytes (none, or only `connectionOnly` ones), else the JS streams relay.
 */
import type * as net from 'node:net';
import { createAccessLoggers } from '../../../access-log/access-logs';
import type { AccessLogger } from '../../../access-log/api';
import { TCP_PROXY_DRAIN_GRACE_MS } from '../../../common/drain';
import { log } from '../../../common/log';
import type { TimerWheel } from '../../../common/timer-wheel';
import { spliceRelayAvailable } from '../../../native';
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

export class TcpProxyFilter implements TerminalNetworkFilter, TcpProxyEnv {
  readonly stats: TcpProxyStats;
  readonly hostTable: HostTable;
  readonly timers: TimerWheel;
  readonly idleTimeoutMs: number;
  readonly bufferLimit: number;
  readonly splice: boolean;
  readonly accessLoggers: AccessLogger[];
  private readonly targets: UpstreamTarget[];
  private readonly totalWeight: number;
  private readonly sessions = new Set<TcpProxySession>();
  private readonly random: () => number;
  readonly now: () => number;
  draining = false;
  drainDeadlineMs = 0;
  private drained: (() => void) | null = null;

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
    this.splice = onlyConnectionFiltersBefore(ctx, services) && spliceRelayAvailable();
    this.targets = config.clusters.map((c) => ({
      name: c.name,
      cluster: services.clusterManager.get(c.name),
      stats: new TcpClusterStats(services.stats, c.name),
      weight: c.weight,
    }));
    this.accessLoggers = createAccessLoggers(config.accessLog, services.registry, services.accessLogSinks);
    this.totalWeight = this.targets.reduce((sum, t) => sum + t.weight, 0);
    if (ctx.workerIndex === 0) {
      log.info(
        `listener '${ctx.listener.name}': tcp_proxy '${config.statPrefix}' relays with ${this.splice ? 'splice' : 'JS streams'}`,
      );
    }
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
    if (this.sessions.size === 0) {
      done();
      return;
    }
    this.drained = done;
    for (const session of this.sessions) session.startDrain();
  }

  pickTarget(): UpstreamTarget {
    if (this.targets.length === 1) return this.targets[0]!;
    let point = this.random() * this.totalWeight;
    for (const t of this.targets) {
      point -= t.weight;
      if (point < 0) return t;
    }
    return this.targets[this.targets.length - 1]!;
  }

  lbContext(downstream: net.Socket): LbContext {
    if (!this.config.hashSourceIp || downstream.remoteAddress === undefined) return NO_LB_CONTEXT;
    return { hashKey: xxHash32(downstream.remoteAddress) };
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
