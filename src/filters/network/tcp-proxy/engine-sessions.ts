/**
 * tcp_proxy sessions run by the native engine (native-bindings/src/engine/l4.c): C accepts,
 * connects and splices; this is the JS half, called once per engine dispatch with a batch of
 * records (src/engine/l4-batch.ts), never per connection. It makes the decisions and the counts a
 * `TcpProxySession` makes — the host (the cluster's load balancer, through `openUpstream`, the same
 * code as the Node-socket path), the circuit breaker, max_connect_attempts, the tcp.<prefix>.*,
 * cluster and host stats — and keeps no state per session: each record carries the session's
 * target and host.
 *
 * Not served here (the listener stays on Node sockets; tcp-proxy.ts and active-listener.ts say why):
 * access_log, hash_policy (it needs the downstream address per pick), and network filters before
 * tcp_proxy that need a socket (local_ratelimit does not: it decides in `admitsConnection`).
 */
import type { NativeEngine } from '../../../engine/native-engine';
import {
  L4EndReason,
  L4RecordKind,
  L4Upstream,
  type EngineL4Handler,
  type L4Record,
} from '../../../engine/l4-batch';
import { NO_LB_CONTEXT } from '../../../upstream/lb/api';
import type { TcpProxyEnv } from './tcp-proxy';
import { openUpstream, upstreamClosed, upstreamConnectFailed, type UpstreamTarget } from './upstream-connect';

/** What the listener does per connection: counts (downstream_cx_*), filters, exact_balance's hand-back. */
export interface EngineSessionHooks {
  /** A connection was accepted; false when a filter before tcp_proxy refused it (`admitsConnection`). */
  sessionStarted(): boolean;
  sessionEnded(session: number): void;
}

/** The targets of a tcp_proxy filter, by the index the engine echoes back. */
export interface EngineTargets {
  readonly targets: readonly UpstreamTarget[];
  pickTargetIndex(): number;
}

/** Pipe capacity per direction: what per_connection_buffer_limit_bytes allows, within the kernel's range. */
const MIN_PIPE_BYTES = 64 * 1024;
const MAX_PIPE_BYTES = 1024 * 1024;
/** The engine takes Int32 milliseconds (24.8 days); longer limits are as good as none. */
const MAX_ENGINE_MS = 0x7fffffff;

export class EngineTcpProxySessions implements EngineL4Handler {
  private listenerId = -1;
  /** Sessions started and not ended. */
  active = 0;
  private drained: (() => void) | null = null;

  constructor(
    private readonly env: TcpProxyEnv & EngineTargets,
    private readonly engine: NativeEngine,
    private readonly hooks: EngineSessionHooks,
  ) {}

  /** Accepts on `fd` (-1: only fds handed over with `adopt`); returns the engine's listener id. */
  listen(fd: number): number {
    const { env } = this;
    this.listenerId = this.engine.listenL4(
      fd,
      {
        idleTimeoutMs: Math.min(env.idleTimeoutMs, MAX_ENGINE_MS),
        maxDurationMs: Math.min(env.config.maxDownstreamConnectionDurationMs, MAX_ENGINE_MS),
        pipeBytes: Math.min(MAX_PIPE_BYTES, Math.max(MIN_PIPE_BYTES, env.bufferLimit)),
      },
      this,
    );
    return this.listenerId;
  }

  /** A connection the primary accepted (exact_balance); returns its session id, -1 if it failed. */
  adopt(fd: number): number {
    return this.engine.adoptL4(this.listenerId, fd);
  }

  /** Sessions close once quiet (after the drain's grace at the latest); `done` when none is left. */
  drain(done: () => void): void {
    if (this.active === 0) {
      done();
      return;
    }
    this.drained = done;
    this.engine.drainL4(this.listenerId);
  }

  onL4Record(r: L4Record): void {
    switch (r.kind) {
      case L4RecordKind.Pick:
        return this.onNewSession(r);
      case L4RecordKind.ConnectFailed:
        return this.onConnectFailed(r);
      case L4RecordKind.Connected:
        this.env.hostTable.recordRtt(r.hostSlot, r.connectMs, this.env.now());
        return;
      case L4RecordKind.Bytes:
        this.publishBytes(r);
        return;
      case L4RecordKind.End:
        return this.onEnd(r);
      case L4RecordKind.Flow:
        this.env.stats.pausedReading.add(r.pausedReading);
        this.env.stats.resumedReading.add(r.resumedReading);
        return;
    }
  }

  private onNewSession(r: L4Record): void {
    const { env } = this;
    this.active++;
    if (!this.hooks.sessionStarted()) {
      r.answerRefuse();
      return;
    }
    env.stats.cxTotal.inc();
    const index = env.pickTargetIndex();
    if (env.targets[index]!.cluster === undefined) {
      env.stats.cxNoRoute.inc();
      r.answerRefuse();
      return;
    }
    this.connect(r, index);
  }

  private onConnectFailed(r: L4Record): void {
    const target = this.env.targets[r.target] as ConnectableTarget;
    upstreamConnectFailed(target, this.env.hostTable, r.hostSlot, r.timedOut);
    upstreamClosed(target, this.env.hostTable, r.hostSlot, false);
    if (r.attempts < this.env.config.maxConnectAttempts && !r.downstreamGone) this.connect(r, r.target);
    else r.answerRefuse();
  }

  /** Answers `r` with a host of target `index`, or refuses it when the cluster has none to give. */
  private connect(r: L4Record, index: number): void {
    const target = this.env.targets[index] as ConnectableTarget;
    const table = this.env.hostTable;
    const host = openUpstream(target, table, NO_LB_CONTEXT);
    if (typeof host === 'number') {
      r.answerRefuse();
      return;
    }
    const address = this.engine.l4Address(host.key, host.address, host.port);
    r.answerConnect(
      index,
      host.slot,
      address,
      target.cluster.config.connectTimeoutMs,
      table.tracksRtt(host.slot),
    );
  }

  private onEnd(r: L4Record): void {
    const { env } = this;
    if (r.target >= 0) this.publishBytes(r);
    if (r.upstream !== L4Upstream.None) {
      const target = env.targets[r.target] as ConnectableTarget;
      upstreamClosed(target, env.hostTable, r.hostSlot, r.upstream === L4Upstream.Connected);
    }
    if (r.endReason === L4EndReason.IdleTimeout) env.stats.idleTimeout.inc();
    else if (r.endReason === L4EndReason.MaxDuration) env.stats.maxDuration.inc();
    this.active--;
    this.hooks.sessionEnded(r.session);
    if (this.active === 0 && this.drained !== null) {
      const done = this.drained;
      this.drained = null;
      done();
    }
  }

  private publishBytes(r: L4Record): void {
    const up = r.bytesUp;
    const down = r.bytesDown;
    if (up === 0 && down === 0) return;
    const { stats } = this.env;
    const cluster = this.env.targets[r.target]!.stats;
    stats.rxBytes.add(up);
    cluster.txBytes.add(up);
    stats.txBytes.add(down);
    cluster.rxBytes.add(down);
  }
}

type ConnectableTarget = UpstreamTarget & { readonly cluster: NonNullable<UpstreamTarget['cluster']> };
