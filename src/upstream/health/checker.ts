/**
 * The active health checker of one cluster, on the primary thread (Envoy runs it on the main
 * thread too): one check loop per host, whose verdicts go to the shared host table
 * (ActiveHcFailed) with a bump of the cluster's health generation, so every worker rebuilds its
 * LB at its next pick. The primary learns hosts by running the cluster's own discovery: DNS
 * clusters claim the same table slots by address as the workers do.
 *
 * Hosts start failed (the table allocates them so, see host-table.ts) until their first check;
 * `warmed` resolves once every host known at the first discovery result has had it, which the
 * primary awaits before opening listeners (Envoy's cluster warm-up). A host that leaves discovery
 * is marked failed again, so an address that comes back starts failed like any new host.
 */
import type { ClusterConfig, HealthCheckConfig } from '../../config/bootstrap';
import type { Counter, Gauge } from '../../stats/store';
import type { HostDiscovery } from '../discovery/api';
import type { Host } from '../host';
import { HostColumn, type ClusterSlots, type HostTable } from '../host-table';
import type { HealthEventLog } from './event-log';
import { HealthState, type CheckOutcome } from './health-state';
import { httpProbe } from './http-probe';
import { grpcProbe } from './grpc-probe';
import type { Probe } from './probe';
import { tcpProbe } from './tcp-probe';
import type { UpstreamTlsConfig } from '../../transport/tls/config';
import { UpstreamTlsClient } from '../../transport/tls/upstream';

/** `cluster.<c>.health_check.*` as the checker updates them. */
export interface HealthCheckStats {
  attempt: Counter;
  success: Counter;
  failure: Counter;
  networkFailure: Counter;
  healthy: Gauge;
}

/** Timers and randomness, injected so unit tests run on a fake clock. */
export interface CheckerEnv {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Uniform in [0, 1). */
  random(): number;
}

export const REAL_CHECKER_ENV: CheckerEnv = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: Math.random,
};

/** Builds the probe for one host (the HTTP or TCP check of the config; replaceable in tests). */
export type ProbeFactory = (host: Host, checkPort: number) => Probe;

export function configuredProbe(cluster: ClusterConfig, check: HealthCheckConfig): ProbeFactory {
  // HTTP and gRPC checks speak TLS when the cluster does (a TCP check only connects).
  const socket = cluster.transportSocket;
  const tls =
    check.tcp === null && socket?.name === 'envoy.transport_sockets.tls'
      ? new UpstreamTlsClient(socket.config as UpstreamTlsConfig, null)
      : null;
  return (host, port) => {
    if (check.http)
      return httpProbe(check.http, cluster.name, host.address, port, check.reuseConnection, tls);
    if (check.grpc)
      return grpcProbe(check.grpc, cluster.name, host.address, port, check.reuseConnection, tls);
    return tcpProbe(check.tcp!, host.address, port);
  };
}

/** What the checker needs besides the config; everything but `stats` has a production default. */
export interface CheckerDeps {
  stats: HealthCheckStats | null;
  newProbe?: ProbeFactory;
  env?: CheckerEnv;
  /**
   * Whether the cluster has ever had upstream traffic (Envoy: upstream_cx_total or the byte
   * counters were ever used); until then checks run every no_traffic_interval. Default: always.
   */
  hadTraffic?: () => boolean;
  /** event_log_path's log; the checker closes it on stop. */
  eventLog?: HealthEventLog | null;
  /** A check passed and the host is healthy: outlier detection may return an ejected host. */
  onCheckPassed?: (slot: number) => void;
}

interface Session {
  readonly host: Host;
  readonly state: HealthState;
  readonly probe: Probe;
  timer: unknown;
  stopped: boolean;
}

export class ClusterHealthChecker {
  private readonly sessions = new Map<Host, Session>();
  private readonly slots: ClusterSlots;
  private readonly stats: HealthCheckStats | null;
  private readonly newProbe: ProbeFactory;
  private readonly env: CheckerEnv;
  private readonly hadTraffic: () => boolean;
  private readonly eventLog: HealthEventLog | null;
  private readonly onCheckPassed: (slot: number) => void;
  /** Resolves once the first discovery result's hosts have all been checked once. */
  readonly warmed: Promise<void>;
  private markWarmed!: () => void;
  private discovered = false;
  private isWarmed = false;

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly check: HealthCheckConfig,
    private readonly table: HostTable,
    private readonly discovery: HostDiscovery,
    deps: CheckerDeps,
  ) {
    const slots = table.slotsOf(cluster.name);
    if (slots === undefined) throw new Error(`cluster '${cluster.name}' has no slots in the host table`);
    this.slots = slots;
    this.stats = deps.stats;
    this.newProbe = deps.newProbe ?? configuredProbe(cluster, check);
    this.env = deps.env ?? REAL_CHECKER_ENV;
    this.hadTraffic = deps.hadTraffic ?? ((): boolean => true);
    this.eventLog = deps.eventLog ?? null;
    this.onCheckPassed = deps.onCheckPassed ?? ((): void => {});
    this.warmed = new Promise((resolve) => (this.markWarmed = resolve));
  }

  start(): void {
    this.discovery.start(
      (hosts) => this.setHosts(hosts),
      () => {
        this.discovered = true;
        this.checkWarmed();
      },
    );
  }

  stop(): void {
    this.discovery.stop();
    for (const s of this.sessions.values()) this.stopSession(s);
    this.sessions.clear();
    this.eventLog?.close();
    this.markWarmed();
  }

  /** Whether the checker currently considers `host` healthy (for tests and logs). */
  isHealthy(host: Host): boolean {
    return this.sessions.get(host)?.state.healthy ?? false;
  }

  private setHosts(hosts: readonly Host[]): void {
    const kept = new Set(hosts);
    for (const [host, s] of this.sessions) {
      if (kept.has(host)) continue;
      this.stopSession(s);
      this.sessions.delete(host);
      this.setFailed(host, true);
    }
    for (const host of hosts) {
      if (this.sessions.has(host)) continue;
      const s: Session = {
        host,
        state: new HealthState(this.check, this.env.random),
        probe: this.newProbe(host, this.checkPort(host)),
        timer: null,
        stopped: false,
      };
      this.sessions.set(host, s);
      this.setFailed(host, true);
      this.schedule(s, s.state.firstDelayMs());
    }
    this.updateHealthyGauge();
    this.checkWarmed();
  }

  /** endpoint health_check_config.port_value (STATIC clusters: slot order is endpoint order). */
  private checkPort(host: Host): number {
    if (!this.cluster.slotPerEndpoint) return host.port;
    return this.cluster.endpoints[host.slot - this.slots.firstSlot]?.healthCheckPort ?? host.port;
  }

  private schedule(s: Session, delayMs: number): void {
    s.timer = this.env.setTimeout(() => void this.runCheck(s), delayMs);
  }

  private async runCheck(s: Session): Promise<void> {
    s.timer = null;
    this.stats?.attempt.inc();
    const outcome = await s.probe.check(this.check.timeoutMs);
    if (s.stopped) return;
    const firstCheck = s.state.firstCheck;
    const wasHealthy = s.state.healthy;
    s.state.record(outcome);
    this.count(outcome);
    if (this.eventLog !== null) this.logEvents(s, outcome, firstCheck, wasHealthy);
    if (s.state.healthy !== wasHealthy) {
      this.setFailed(s.host, !s.state.healthy);
      this.updateHealthyGauge();
    }
    if (outcome === 'success' && s.state.healthy) this.onCheckPassed(s.host.slot);
    this.schedule(s, s.state.nextDelayMs(this.hadTraffic()));
    if (firstCheck) this.checkWarmed();
  }

  /** Envoy's event log rules: transitions, a host's first failure, and the always_log_* extras. */
  private logEvents(s: Session, outcome: CheckOutcome, firstCheck: boolean, wasHealthy: boolean): void {
    const events = this.eventLog!;
    const flipped = s.state.healthy !== wasHealthy;
    if (outcome === 'success') {
      if (flipped) events.addHealthy(s.host, firstCheck);
      else if (this.check.alwaysLogSuccess) events.success(s.host);
      return;
    }
    if (flipped) events.ejectUnhealthy(s.host, outcome);
    if (firstCheck || this.check.alwaysLogFailures) events.failure(s.host, outcome, firstCheck);
  }

  private count(outcome: CheckOutcome): void {
    if (this.stats === null) return;
    if (outcome === 'success') this.stats.success.inc();
    else {
      this.stats.failure.inc();
      if (outcome === 'network_failure' || outcome === 'network_timeout') this.stats.networkFailure.inc();
    }
  }

  /** Resolves `warmed` once discovery answered and no host of it still waits for its first check. */
  private checkWarmed(): void {
    if (this.isWarmed || !this.discovered) return;
    for (const s of this.sessions.values()) if (s.state.firstCheck) return;
    this.isWarmed = true;
    this.markWarmed();
  }

  private setFailed(host: Host, failed: boolean): void {
    const value = failed ? 1 : 0;
    if (this.table.get(host.slot, HostColumn.ActiveHcFailed) === value) return;
    this.table.set(host.slot, HostColumn.ActiveHcFailed, value);
    this.table.healthChanged(this.slots);
  }

  private updateHealthyGauge(): void {
    if (this.stats === null) return;
    let healthy = 0;
    for (const s of this.sessions.values()) if (s.state.healthy) healthy++;
    this.stats.healthy.set(healthy);
  }

  private stopSession(s: Session): void {
    s.stopped = true;
    if (s.timer !== null) this.env.clearTimeout(s.timer);
    s.probe.close();
  }
}
