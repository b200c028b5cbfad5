/**
 * What a worker builds from the validated bootstrap before it accepts anything: its clusters (with
 * their load balancers and circuit breakers) and its listeners (network filter chains, HTTP
 * connection managers with their route tables, HTTP filter factories and access loggers).
 *
 * The primary runs the same build once before starting any worker, and in `--mode validate`
 * (`checkDataPlane`), with nothing opened: no socket listens, DNS is never asked and access log
 * files are only checked to be writable. So a config that passes the check cannot make a worker
 * fail to start over a build step (Envoy's validate mode builds its server the same way).
 */
import type { Bootstrap } from '../config/bootstrap';
import { buildEach, buildProblems, type BuildProblem } from '../config/build-error';
import type { Registry } from '../registry/registry';
import { StatsLayout, StatsStore } from '../stats/store';
import { declareBootstrapStats } from '../stats/declare';
import { ClusterStats } from '../stats/cluster-stats';
import { declareCircuitBreakerStats } from '../upstream/circuit-breaker-gauges';
import { CircuitBreakerTable } from '../upstream/circuit-breakers';
import { ClusterManager } from '../upstream/cluster-manager';
import type { DnsResolver } from '../upstream/discovery/api';
import { HostTable } from '../upstream/host-table';
import { declareOutlierStats } from '../upstream/outlier/primary-detectors';
import type { ThresholdListener } from '../upstream/outlier/recorder';
import { ActiveListener } from '../listener/active-listener';
import type { AccessLogSinks } from '../access-log/api';
import { CHECK_SINKS } from '../access-log/check-sinks';
import { createAccessLoggers } from '../access-log/access-logs';
import { DateCache } from '../common/date-cache';
import { TimerWheel } from '../common/timer-wheel';
import { turnMonotonicMs } from '../common/turn-clock';
import type { NativeEngine } from '../engine/native-engine';
import { engineConnector } from '../engine/engine-client-connection';
import { getLogLevel, setLogLevel } from '../common/log';
import type { WorkerServices } from './services';
import { SharedFlag } from './shared-flag';

/** Every stat the primary lays out for `concurrency` workers (the primary's own row is row 0). */
export function layoutStats(bootstrap: Bootstrap, registry: Registry, concurrency: number): StatsLayout {
  const layout = new StatsLayout();
  declareBootstrapStats(layout, bootstrap, registry, concurrency);
  declareCircuitBreakerStats(layout, bootstrap.clusters);
  declareOutlierStats(layout, bootstrap.clusters);
  return layout;
}

/** The shared tables and hooks one worker's data plane is built on. */
export interface DataPlaneDeps {
  readonly bootstrap: Bootstrap;
  readonly workerIndex: number;
  readonly registry: Registry;
  /** This worker's row of the shared stats. */
  readonly stats: StatsStore;
  readonly hostTable: HostTable;
  readonly circuitBreakers: CircuitBreakerTable;
  readonly healthCheckFailed: SharedFlag;
  /** A host's run of errors reached an outlier threshold: the primary decides on its ejection. */
  readonly outlierThreshold: ThresholdListener;
  /** Default: the system resolver. */
  readonly dnsResolver?: DnsResolver;
  /** Default: this thread's buffered sinks. */
  readonly accessLogSinks?: AccessLogSinks;
  /** This worker's native HTTP engine; absent or null: connections run on Node's sockets. */
  readonly nativeEngine?: NativeEngine | null;
}

export interface DataPlane {
  readonly services: WorkerServices;
  /** One per bootstrap listener, in order; built, not started. */
  readonly listeners: ActiveListener[];
}

/**
 * Builds a worker's clusters and listeners. Throws a ConfigBuildError naming every part that
 * failed; DNS clusters start resolving (await `services.clusterManager.initialize()`).
 */
export function buildDataPlane(deps: DataPlaneDeps): DataPlane {
  const { workerIndex, registry, stats, circuitBreakers } = deps;
  const random = Math.random;
  const now = turnMonotonicMs;
  const nativeEngine = deps.nativeEngine ?? null;
  const clusterManager = new ClusterManager(deps.bootstrap.clusters, {
    // Upstream HTTP connections go through the native engine when it runs: bodies can then move
    // between an engine-served client and its upstream without JS.
    ...(nativeEngine !== null ? { connector: engineConnector(nativeEngine) } : {}),
    hostTable: deps.hostTable,
    registry,
    stats,
    random,
    nowMs: now,
    dnsResolver: deps.dnsResolver,
    // Worker 0 alone reports membership gauges; every worker counts its own requests and connections.
    clusterStats: (name) => new ClusterStats(stats, name, workerIndex === 0),
    circuitBreaker: (config) => circuitBreakers.breaker(config, 0, workerIndex, (n) => stats.counter(n)),
    outlierThreshold: deps.outlierThreshold,
  });
  const services: WorkerServices = {
    workerIndex,
    registry,
    stats,
    timers: new TimerWheel(now),
    clusterManager,
    hostTable: deps.hostTable,
    date: new DateCache(),
    random,
    now,
    healthCheckFailed: deps.healthCheckFailed,
    accessLogSinks: deps.accessLogSinks,
    nativeEngine,
  };
  try {
    const listeners = buildEach(deps.bootstrap.listeners, (config) => new ActiveListener(config, services));
    return { services, listeners };
  } catch (err) {
    closeServices(services);
    throw err;
  }
}

/**
 * Fresh shared tables for one worker built in this thread (the config check; tests), as the
 * primary would lay them out for a single worker.
 */
export function singleWorkerDeps(bootstrap: Bootstrap, registry: Registry): DataPlaneDeps {
  return {
    bootstrap,
    workerIndex: 0,
    registry,
    stats: new StatsStore(layoutStats(bootstrap, registry, 1).allocate(2), 1),
    hostTable: HostTable.allocate(bootstrap.clusters),
    circuitBreakers: CircuitBreakerTable.allocate(bootstrap.clusters, 1),
    healthCheckFailed: new SharedFlag(),
    outlierThreshold: () => {},
  };
}

/** Stops what a built data plane runs without traffic: DNS refreshes, timers. */
export function closeDataPlane(plane: DataPlane): void {
  closeServices(plane.services);
}

/** A resolver that never answers: the check must not send DNS queries (nor schedule re-resolution). */
const NO_DNS: DnsResolver = () => new Promise<string[]>(() => {});

/**
 * The primary's config check: builds one worker's data plane as `buildDataPlane` does, with nothing
 * opened, then releases it; and the primary's own access loggers (the admin's). Returns what failed
 * (empty: workers will build this config).
 */
export function checkDataPlane(bootstrap: Bootstrap, registry: Registry): BuildProblem[] {
  const problems: BuildProblem[] = [];
  const attempt = (build: () => void): void => {
    try {
      build();
    } catch (err) {
      problems.push(...buildProblems(err));
    }
  };
  attempt(() => createAccessLoggers(bootstrap.admin?.accessLog ?? [], registry, CHECK_SINKS));
  // Quietly: what a build logs at info (how tcp_proxy relays, …) is for the workers to say.
  const level = getLogLevel();
  if (level === 'info') setLogLevel('warn');
  try {
    attempt(() =>
      closeDataPlane(
        buildDataPlane({
          ...singleWorkerDeps(bootstrap, registry),
          dnsResolver: NO_DNS,
          accessLogSinks: CHECK_SINKS,
        }),
      ),
    );
  } finally {
    setLogLevel(level);
  }
  return problems;
}

function closeServices(services: WorkerServices): void {
  services.clusterManager.close();
  services.timers.close();
  services.date.close();
}
