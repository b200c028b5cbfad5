/**
 * The primary thread: owns the validated config, the admin server and supervision. It lays out
 * the shared tables (stats, hosts), gives each worker its own SO_REUSEPORT socket per listener,
 * restarts a worker that dies, applies reloads (SIGHUP, admin `/reload`), and on SIGTERM/SIGINT drains: stops accepting, lets in-flight
 * requests finish (up to --drain-time-s), then exits 0.
 */
import { Worker } from 'node:worker_threads';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Bootstrap, ListenerConfig } from '../config/bootstrap';
import type { Registry } from '../registry/registry';
import { StatsStore, type StatsLayoutData } from '../stats/store';
import { HostTable } from '../upstream/host-table';
import { CircuitBreakerTable } from '../upstream/circuit-breakers';
import { CircuitBreakerGauges } from '../upstream/circuit-breaker-gauges';
import { loadNative, nativeStatus, openSharedListenSocket } from '../native';
import { log, type LogLevel } from '../common/log';
import type { ListenerSocketPlan } from '../listener/active-listener';
import { BalancedAcceptor } from '../listener/balanced-acceptor';
import { ExactBalance } from '../listener/exact-balance';
import type { PrimaryToWorker, WorkerInit, WorkerToPrimary } from './messages';
import type { ReloadGeneration } from './reload-plane';
import { AdminServer, type ReloadResult, type ServerState } from '../admin/admin-server';
import type { LoadResult } from '../config/load';
import { ConfigError } from '../config/config-error';
import { sameConfig } from '../config/same-config';
import type { Counter } from '../stats/store';
import { startHealthCheckers, type HealthCheckers } from '../upstream/health/health-checks';
import { startOutlierDetectors, type OutlierDetectors } from '../upstream/outlier/primary-detectors';
import { monotonicMs } from '../common/timer-wheel';
import { SharedFlag } from './shared-flag';
import { collectGarbage } from '../stats/heap-gauges';
import { layoutStats } from './data-plane';
import { createAccessLoggers } from '../access-log/access-logs';
import { NativeEngine } from '../engine/native-engine';
import { DynamicResources } from './dynamic-resources';
import { ManagerStats } from './manager-stats';
import type { ConfigCheck } from '../config/xds/resources';

export interface ServeOptions {
  concurrency: number;
  drainTimeS: number;
  logLevel: LogLevel;
  /** The argv Legate was started with, for /server_info. */
  commandLine: Record<string, unknown>;
  /** The config as the user wrote it (for /config_dump); a reload replaces it. */
  rawConfig: unknown;
  /**
   * Reads and checks the config again, as at startup (SIGHUP, admin `/reload`); throws a
   * ConfigError naming every problem. Absent: the config cannot be reloaded (it was not a file).
   */
  reloadConfig?: () => LoadResult;
  /** Builds what workers build from a config (the loader's check), for xDS resources. */
  check?: ConfigCheck;
}

type ReloadReply = Extract<WorkerToPrimary, { type: 'reloaded' | 'reload-failed' }>;

/** Crash-loop guard: at most this many restarts of one worker per minute. */
const MAX_RESTARTS_PER_MINUTE = 10;

interface WorkerSlot {
  index: number;
  worker: Worker | null;
  restarts: number[];
  drained: boolean;
}

export class Primary implements ServerState {
  private statsData: StatsLayoutData;
  readonly stats: StatsStore;
  readonly hostTable: HostTable;
  private readonly circuitBreakers: CircuitBreakerTable;
  private circuitBreakerGauges: CircuitBreakerGauges;
  /** The config generation serving: 0 at startup, one more per applied reload. */
  private generation = 0;
  /** Reloads run one after another. */
  private reloadQueue: Promise<unknown>;
  /** Opens the queue once the workers serve (config changes wait for startup). */
  private started!: () => void;
  /** Per worker index, the reply its worker owes for the reload being applied. */
  private readonly reloadReplies = new Map<number, (msg: ReloadReply) => void>();
  private readonly reloadSuccess: Counter;
  private readonly reloadFailed: Counter;
  private readonly managerStats: ManagerStats;
  /** The bootstrap's own (static) resources; `bootstrap` adds the dynamic ones. */
  statics: Bootstrap;
  /** xDS files (`dynamic_resources`), watched once the workers serve. */
  readonly dynamicResources: DynamicResources;
  /** The config the workers run: static resources and the accepted xDS resources. */
  bootstrap: Bootstrap;
  private readonly slots: WorkerSlot[] = [];
  /** exact_balance listeners: the primary accepts and hands connections to workers. */
  private readonly exactBalance: ExactBalance | null;
  private readonly acceptors: BalancedAcceptor[] = [];
  /** Resolved ports per listener name (after port 0 was bound). */
  readonly ports = new Map<string, number>();
  /** Per listener, whether the native engine or Node's sockets serve it (as the first worker reported). */
  readonly listenerPaths = new Map<string, 'native' | 'js'>();
  private admin: AdminServer | null = null;
  readonly outlierDetectors: OutlierDetectors;
  private readonly healthCheckers: HealthCheckers;
  private draining = false;
  private readonly startedAt = Date.now();
  readonly concurrency: number;
  readonly sharedSockets: boolean;
  /** The admin's /healthcheck/fail state, shared with the workers (the health_check filter reads it). */
  private readonly healthFlag = new SharedFlag();
  get healthCheckFailed(): boolean {
    return this.healthFlag.value;
  }
  set healthCheckFailed(failed: boolean) {
    this.healthFlag.value = failed;
  }

  constructor(
    statics: Bootstrap,
    private readonly registry: Registry,
    readonly options: ServeOptions,
  ) {
    this.statics = statics;
    this.dynamicResources = new DynamicResources(registry, options.check, {
      enqueue: (task) => void this.enqueue(task),
      statics: () => this.statics,
      apply: async (next) => {
        const result = await this.applyConfig(next);
        return result.ok ? null : result.errors;
      },
    });
    // At startup a file is read once, and a clash with a static name is a parse error of the file.
    const prepared = this.dynamicResources.prepare(statics);
    if ('errors' in prepared) throw new Error(prepared.errors);
    const bootstrap = prepared.config;
    this.bootstrap = bootstrap;
    this.sharedSockets = loadNative() !== null;
    let concurrency = Math.max(1, options.concurrency);
    if (!this.sharedSockets && concurrency > 1) {
      log.warn(
        `native addon not active (${nativeStatus().reason}): serving every listener from one worker thread instead of ${concurrency}`,
      );
      concurrency = 1;
    }
    this.concurrency = concurrency;
    this.statsData = layoutStats(bootstrap, registry, concurrency).allocate(1 + concurrency);
    this.stats = new StatsStore(this.statsData, 0);
    this.stats.gauge('server.concurrency').add(concurrency);
    this.stats.gauge('server.live').inc();
    this.reloadSuccess = this.stats.counter('server.reload_success');
    this.reloadFailed = this.stats.counter('server.reload_failed');
    this.managerStats = new ManagerStats(this.stats, bootstrap);
    prepared.commit(this.stats);
    this.reloadQueue = new Promise<void>((resolve) => (this.started = resolve));
    this.dynamicResources.watch();
    this.hostTable = HostTable.allocate(bootstrap.clusters);
    this.exactBalance = ExactBalance.allocate(this.exactBalanceListeners(), concurrency);
    this.circuitBreakers = CircuitBreakerTable.allocate(bootstrap.clusters, concurrency);
    this.circuitBreakerGauges = new CircuitBreakerGauges(
      this.circuitBreakers,
      bootstrap.clusters,
      this.stats,
    );
    this.circuitBreakerGauges.start();
    // Verdicts reach the workers through the host table's health generation (see cluster.ts).
    this.outlierDetectors = startOutlierDetectors(
      bootstrap.clusters,
      this.hostTable,
      this.stats,
      monotonicMs,
    );
    this.healthCheckers = startHealthCheckers(
      bootstrap.clusters,
      this.hostTable,
      this.stats,
      registry,
      (slot) => this.outlierDetectors.onActiveCheckPassed(slot),
    );
  }

  get state(): 'LIVE' | 'DRAINING' {
    return this.draining ? 'DRAINING' : 'LIVE';
  }

  get uptimeSeconds(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  async start(): Promise<void> {
    if (this.bootstrap.admin !== null) {
      this.admin = new AdminServer(
        this,
        this.bootstrap.admin,
        createAccessLoggers(this.bootstrap.admin.accessLog, this.registry),
      );
      await this.admin.start();
      log.info(`admin listening on ${this.bootstrap.admin.address.address}:${this.admin.port}`);
    }
    await this.warmUpClusters();
    await this.pickUwsPorts();
    await this.startAcceptors();
    for (let i = 0; i < this.concurrency; i++)
      this.slots.push({ index: i, worker: null, restarts: [], drained: false });
    // Worker 0 first: it resolves any port 0 so the others bind the same port.
    await this.startWorker(this.slots[0]!);
    await Promise.all(this.slots.slice(1).map((s) => this.startWorker(s)));
    for (const l of this.bootstrap.listeners) {
      log.info(
        `listener '${l.name}' listening on ${l.address.address}:${this.ports.get(l.name)} (${l.http1Codec} codec${this.listenerPaths.get(l.name) === 'native' ? ', native engine' : ''}${chainSummary(l)})`,
      );
    }
    const engineOff = NativeEngine.unavailableReason();
    log.info(
      `legate ready: ${this.concurrency} worker(s), native ${nativeStatus().active ? 'active' : 'inactive'}` +
        (engineOff === null ? ', native HTTP engine available' : `; native HTTP engine off: ${engineOff}`),
    );
    process.on('SIGTERM', () => void this.drainAndExit());
    process.on('SIGINT', () => void this.drainAndExit());
    process.on('SIGHUP', () => void this.reload());
    this.started();
  }

  /**
   * Envoy's cluster warm-up: listeners open only after the first health check of every host (each
   * ends within initial_jitter + timeout), so the first request already avoids a failing host.
   * Workers start after this; the admin is up meanwhile (/clusters shows hosts failed until checked).
   */
  private async warmUpClusters(): Promise<void> {
    const n = this.healthCheckers.clusterCount;
    if (n === 0) return;
    log.info(`waiting for the first health checks of ${n} cluster(s)`);
    // The checkers' timers are unref'd (they must not keep a draining process alive); with no admin
    // and no worker yet, nothing else holds the event loop during initial_jitter, so hold it here.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      await this.healthCheckers.warmed;
    } finally {
      clearInterval(keepAlive);
    }
  }

  get adminPort(): number | null {
    return this.admin?.port ?? null;
  }

  /**
   * uWS shares a port between threads (SO_REUSEPORT) only when it is given a concrete one: for a uWS
   * listener on port 0, pick a free port here and hand that to every worker.
   */
  private async pickUwsPorts(listeners: readonly ListenerConfig[] = this.bootstrap.listeners): Promise<void> {
    for (const l of listeners) {
      if (l.http1Codec !== 'uws' || l.address.port !== 0) continue;
      this.ports.set(l.name, await freePort(l.address.address));
    }
  }

  /**
   * The listeners the primary balances exactly: those asking for it, when the addon can hand
   * sockets to workers and the listener's sockets are Node's (uWS accepts its own: it stays on
   * SO_REUSEPORT, see README).
   */
  private exactBalanceListeners(): ListenerConfig[] {
    return this.bootstrap.listeners.filter((l) => {
      if (l.connectionBalance !== 'exact') return false;
      if (l.http1Codec === 'uws') {
        log.warn(
          `listener '${l.name}': exact_balance is not possible with the uWS codec; the kernel balances it`,
        );
        return false;
      }
      if (!this.sharedSockets) {
        log.warn(`listener '${l.name}': exact_balance needs the native addon (one worker serves it now)`);
        return false;
      }
      return true;
    });
  }

  /** Binds the exact_balance listeners here, before any worker runs. */
  private async startAcceptors(): Promise<void> {
    const balance = this.exactBalance;
    if (balance === null) return;
    for (const l of this.bootstrap.listeners) {
      if (!balance.balances(l.name)) continue;
      const acceptor = new BalancedAcceptor(l, balance, {
        usable: (w) => !this.draining && this.slots[w]?.worker != null,
        deliver: (w, slot) =>
          this.slots[w]!.worker!.postMessage({ type: 'connection', slot } satisfies PrimaryToWorker),
      });
      this.acceptors.push(acceptor);
      this.ports.set(l.name, await acceptor.start(this.ports.get(l.name) ?? l.address.port));
    }
  }

  /** Each worker incarnation gets fresh sockets: a dead worker's fds closed with it. */
  private planSockets(listeners: readonly ListenerConfig[] = this.bootstrap.listeners): ListenerSocketPlan[] {
    return listeners.map((l) => {
      const known = this.ports.get(l.name);
      const port = known ?? l.address.port;
      if (this.exactBalance?.balances(l.name)) return { name: l.name, fd: null, port, handoff: true };
      if (l.http1Codec === 'uws') return { name: l.name, fd: null, port, handoff: false };
      const shared = openSharedListenSocket(l.address.address, port, 4096);
      if (shared !== null && known === undefined) this.ports.set(l.name, shared.port);
      return { name: l.name, fd: shared?.fd ?? null, port: shared?.port ?? port, handoff: false };
    });
  }

  private startWorker(slot: WorkerSlot): Promise<void> {
    const init: WorkerInit = {
      workerIndex: slot.index,
      bootstrap: this.bootstrap,
      stats: this.statsData,
      hostTable: this.hostTable.toShared(),
      circuitBreakers: this.circuitBreakers.toShared(),
      listeners: this.planSockets(),
      exactBalance: this.exactBalance?.toShared() ?? null,
      logLevel: this.options.logLevel,
      healthCheckFailed: this.healthFlag.sab,
    };
    const worker = new Worker(path.join(__dirname, 'worker-main.js'), { workerData: init });
    slot.worker = worker;
    slot.drained = false;
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: WorkerToPrimary) => {
        if (msg.type === 'ready') {
          ready = true;
          for (const [name, port] of Object.entries(msg.ports))
            if (!this.ports.has(name)) this.ports.set(name, port);
          for (const [name, path] of Object.entries(msg.paths))
            if (!this.listenerPaths.has(name)) this.listenerPaths.set(name, path);
          resolve();
        } else if (msg.type === 'start-failed') {
          reject(new Error(`worker ${slot.index} failed to start: ${msg.error}`));
        } else if (msg.type === 'drained') {
          slot.drained = true;
        } else if (msg.type === 'outlier-threshold') {
          this.outlierDetectors.onThreshold(msg.slot, msg.detector);
        } else if (msg.type === 'reloaded' || msg.type === 'reload-failed') {
          this.reloadReplies.get(slot.index)?.(msg);
        }
      });
      worker.on('error', (err) => log.error(`worker ${slot.index} crashed: ${err.stack ?? err.message}`));
      worker.on('exit', (code) => {
        slot.worker = null;
        // A reload waiting for this worker goes on: its replacement starts on the new config.
        this.reloadReplies.get(slot.index)?.({ type: 'reloaded', generation: -1, ports: {}, paths: {} });
        // What the dead thread still held (requests, connections) must not stay counted forever.
        this.circuitBreakers.reclaimWorker(slot.index);
        this.exactBalance?.reclaimWorker(slot.index, (fd) => loadNative()!.close(fd));
        if (!ready) {
          reject(new Error(`worker ${slot.index} exited with code ${code} before it was ready`));
          return;
        }
        if (!this.draining) this.restart(slot, code);
      });
    });
  }

  private restart(slot: WorkerSlot, code: number): void {
    const now = Date.now();
    slot.restarts = slot.restarts.filter((t) => now - t < 60_000);
    if (slot.restarts.length >= MAX_RESTARTS_PER_MINUTE) {
      log.error(
        `worker ${slot.index} exited (code ${code}) ${MAX_RESTARTS_PER_MINUTE} times in a minute; not restarting it`,
      );
      return;
    }
    slot.restarts.push(now);
    log.warn(`worker ${slot.index} exited (code ${code}); restarting it`);
    this.startWorker(slot).catch((err: Error) => log.error(err.message));
  }

  /** Stops accepting everywhere and waits for in-flight requests, up to the drain time. */
  async drainAndExit(): Promise<never> {
    if (!this.draining) {
      this.draining = true;
      this.dynamicResources.close();
      for (const acceptor of this.acceptors) acceptor.close();
      log.info(`draining (up to ${this.options.drainTimeS}s)`);
      const exits = this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.worker === null) return resolve();
            s.worker.once('exit', () => resolve());
            s.worker.postMessage({ type: 'drain' } satisfies PrimaryToWorker);
          }),
      );
      const deadline = new Promise<void>((resolve) =>
        setTimeout(resolve, this.options.drainTimeS * 1000).unref(),
      );
      await Promise.race([Promise.all(exits), deadline]);
      await this.admin?.close();
      log.info('drained; exiting');
    }
    process.exit(0);
  }

  /**
   * Re-reads the config (SIGHUP, admin `/reload`) and applies the difference while traffic flows
   * (worker/reload-plane.ts). An invalid config changes nothing: its errors are logged, located as
   * at startup, and counted in `server.reload_failed`. Reloads queue one after another.
   */
  reload(): Promise<ReloadResult> {
    return this.enqueue(() => this.applyReload());
  }

  /**
   * Config changes (reloads, xDS updates) run one after another, in the order they came. After
   * each, a full collection: a change leaves dead SharedArrayBuffers (the check's stats tables,
   * replaced stats blocks and host-table chunks) that V8 counts as external memory and collects
   * late on a thread that allocates little, so the process's RSS rose with every reload until V8
   * did (README, reload). One collection of the primary's small heap takes a few ms, off the data
   * path; workers collect after reloads too (worker-main.ts).
   */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.reloadQueue.then(task).finally(collectGarbage);
    this.reloadQueue = run.catch(() => {});
    return run;
  }

  private async applyReload(): Promise<ReloadResult> {
    if (this.draining) return this.rejectReload('draining: a reload is not applied');
    if (this.options.reloadConfig === undefined)
      return this.rejectReload('this config cannot be reloaded (it came from the command line only)');
    let loaded: LoadResult;
    try {
      loaded = this.options.reloadConfig();
    } catch (err) {
      return this.rejectReload(err instanceof ConfigError ? err.format() : (err as Error).message);
    }
    const prepared = this.dynamicResources.prepare(loaded.bootstrap);
    if ('errors' in prepared) return this.rejectReload(prepared.errors);
    for (const w of loaded.warnings) log.warn(`${w.location}: ${w.path}: ${w.message}`);
    const result = await this.applyConfig(prepared.config);
    if (result.ok || result.applied) {
      this.statics = loaded.bootstrap;
      this.options.rawConfig = loaded.raw;
      prepared.commit(this.stats);
    }
    if (!result.ok) return this.rejectReload(result.errors);
    this.reloadSuccess.inc();
    return { ok: true, generation: result.generation };
  }

  /**
   * Applies a whole config (a reload's, or the static resources with an xDS update) while traffic
   * flows (worker/reload-plane.ts). `applied`: the workers were given the config (a worker that
   * could not apply it is a bug; the others serve it).
   */
  private async applyConfig(
    next: Bootstrap,
  ): Promise<{ ok: true; generation: number } | { ok: false; applied: boolean; errors: string }> {
    if (this.draining)
      return { ok: false, applied: false, errors: 'draining: a config change is not applied' };
    const previous = this.bootstrap;
    const unsupported = this.unsupportedChange(previous, next);
    if (unsupported !== null) return { ok: false, applied: false, errors: unsupported };
    if (!sameConfig(previous.admin, next.admin))
      log.warn('reload: admin settings are read at startup only; the admin keeps its address and logs');
    const generation = ++this.generation;
    this.managerStats.changing(previous, next);

    // The shared tables first: every row the new config uses exists before a worker binds it.
    this.statsData = layoutStats(next, this.registry, this.concurrency).relayout(this.statsData);
    this.stats.update(this.statsData);
    const hostTable = this.hostTable.relayout(next.clusters, previous.clusters);
    this.hostTable.update(hostTable);
    const circuitBreakers = this.circuitBreakers.relayout(next.clusters);
    this.circuitBreakers.update(circuitBreakers);
    this.circuitBreakerGauges.stop();
    this.circuitBreakerGauges = new CircuitBreakerGauges(this.circuitBreakers, next.clusters, this.stats);
    this.circuitBreakerGauges.start();
    const before = new Map(previous.clusters.map((c) => [c.name, c]));
    const kept = new Set(next.clusters.filter((c) => sameConfig(before.get(c.name), c)).map((c) => c.name));
    this.outlierDetectors.update(next.clusters, kept);
    await this.healthCheckers.update(next.clusters, kept);

    const oldListeners = new Map(previous.listeners.map((l) => [l.name, l]));
    const placed = next.listeners.filter((l) => {
      const old = oldListeners.get(l.name);
      return old === undefined || !sameConfig(old.address, l.address);
    });
    const stay = new Set(next.listeners.filter((l) => !placed.includes(l)).map((l) => l.name));
    for (const name of oldListeners.keys()) {
      if (stay.has(name)) continue;
      this.ports.delete(name);
      this.listenerPaths.delete(name);
    }
    this.bootstrap = next;
    await this.pickUwsPorts(placed);
    const send = (slot: WorkerSlot): Promise<ReloadReply> =>
      this.reloadWorker(slot, {
        generation,
        bootstrap: next,
        stats: this.statsData,
        hostTable,
        circuitBreakers,
        listeners: this.planSockets(placed),
      });
    // Worker 0 first: it resolves a new listener's port 0 for the others.
    const replies = [await send(this.slots[0]!)];
    replies.push(...(await Promise.all(this.slots.slice(1).map(send))));
    this.managerStats.settled(next);
    const failed = replies.find((r) => r.type === 'reload-failed');
    if (failed !== undefined && failed.type === 'reload-failed') {
      // The primary's check passed, so a worker failing is a bug; the others serve the new config.
      log.error(`config ${generation}: a worker could not apply it: ${failed.error}`);
      return { ok: false, applied: true, errors: failed.error };
    }
    for (const r of replies) {
      if (r.type !== 'reloaded') continue;
      for (const [name, port] of Object.entries(r.ports))
        if (!this.ports.has(name)) this.ports.set(name, port);
      for (const [name, path] of Object.entries(r.paths)) this.listenerPaths.set(name, path);
    }
    log.info(
      `config ${generation} applied: ${next.listeners.length} listener(s), ${next.clusters.length} cluster(s)`,
    );
    return { ok: true, generation };
  }

  private rejectReload(errors: string): ReloadResult {
    this.reloadFailed.inc();
    log.error(`reload rejected, the running config stays:\n${errors}`);
    return { ok: false, errors };
  }

  /** What a reload cannot change while running, or null. */
  private unsupportedChange(previous: Bootstrap, next: Bootstrap): string | null {
    const exact = (b: Bootstrap): string =>
      JSON.stringify(
        b.listeners.filter((l) => l.connectionBalance === 'exact').map((l) => [l.name, l.address]),
      );
    if (this.exactBalance !== null && exact(previous) !== exact(next))
      return 'reload: adding, removing or moving an exact_balance listener needs a restart';
    return null;
  }

  /** Sends one reload to `slot`'s worker; resolves with its reply (at once when it has none). */
  private reloadWorker(slot: WorkerSlot, next: ReloadGeneration): Promise<ReloadReply> {
    const worker = slot.worker;
    if (worker === null) return Promise.resolve({ type: 'reloaded', generation: -1, ports: {}, paths: {} });
    return new Promise((resolve) => {
      this.reloadReplies.set(slot.index, (msg) => {
        this.reloadReplies.delete(slot.index);
        resolve(msg);
      });
      worker.postMessage({ type: 'reload', next } satisfies PrimaryToWorker);
    });
  }

  setLogLevel(level: LogLevel): void {
    for (const s of this.slots) s.worker?.postMessage({ type: 'log-level', level } satisfies PrimaryToWorker);
  }

  /** Admin /drain_listeners: stop accepting new connections, keep serving in-flight ones. */
  drainListeners(): void {
    for (const s of this.slots) s.worker?.postMessage({ type: 'drain' } satisfies PrimaryToWorker);
    this.draining = true;
    for (const acceptor of this.acceptors) acceptor.close();
  }

  /** Test hook behind LEGATE_TEST_HOOKS=1: make worker `index` crash like a bug would. */
  crashWorker(index: number): boolean {
    return this.postTestHook(index, { type: 'crash' });
  }

  /** Test hook behind LEGATE_TEST_HOOKS=1: make worker `index` allocate and keep `bytes` of heap. */
  allocateInWorker(index: number, bytes: number): boolean {
    return this.postTestHook(index, { type: 'allocate', bytes });
  }

  /** Test hook behind LEGATE_TEST_HOOKS=1: every thread collects garbage (then /memory is what is retained). */
  collectGarbage(): void {
    collectGarbage();
    for (const s of this.slots) s.worker?.postMessage({ type: 'gc' } satisfies PrimaryToWorker);
  }

  private postTestHook(index: number, msg: PrimaryToWorker): boolean {
    const w = this.slots[index]?.worker;
    if (!w) return false;
    w.postMessage(msg);
    return true;
  }
}

/** A port the kernel considers free on `host` right now (bound and released at once). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** ", 3 filter chains, TLS on 2" for a listener with more than one chain or with TLS; else "". */
function chainSummary(l: ListenerConfig): string {
  const chains = l.defaultFilterChain ? [...l.filterChains, l.defaultFilterChain] : l.filterChains;
  const tls = chains.filter((c) => c.transportSocket !== null).length;
  const count = chains.length > 1 ? `, ${chains.length} filter chains` : '';
  return tls === 0 ? count : `${count}, TLS${chains.length > 1 ? ` on ${tls}` : ''}`;
}
