/**
 * Entry point of a worker thread: builds this worker's data plane from the primary's validated
 * config (registry, clusters, listeners, filter chains), starts accepting, applies the primary's
 * reloads (reload-plane.ts), and drains when the primary asks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PrimaryToWorker, WorkerInit, WorkerToPrimary } from './messages';
import { createBuiltinRegistry } from '../registry/builtins';
import { StatsStore } from '../stats/store';
import { HeapGauges, collectGarbage } from '../stats/heap-gauges';
import { closeAccessLogSinks } from '../access-log/sinks';
import { log, setLogLevel, setLogPrefix } from '../common/log';
import { HostTable } from '../upstream/host-table';
import { CircuitBreakerTable } from '../upstream/circuit-breakers';
import { ExactBalance } from '../listener/exact-balance';
import { adoptSocketFd, loadNative } from '../native';
import { SharedFlag } from './shared-flag';
import { NativeEngine } from '../engine/native-engine';
import { buildDataPlane } from './data-plane';
import type { ActiveListener } from '../listener/active-listener';
import { applyReload, type LivePlane, type ReloadGeneration } from './reload-plane';

function post(msg: WorkerToPrimary): void {
  parentPort!.postMessage(msg);
}

async function main(init: WorkerInit): Promise<void> {
  setLogLevel(init.logLevel);
  setLogPrefix(`worker ${init.workerIndex}`);
  const stats = new StatsStore(init.stats, 1 + init.workerIndex);
  stats.resetOwnGauges();
  const nativeEngine = NativeEngine.create();
  const heap = new HeapGauges(stats);
  heap.start();
  const hostTable = HostTable.fromShared(init.hostTable);
  const circuitBreakers = CircuitBreakerTable.fromShared(init.circuitBreakers);
  const { services, listeners } = buildDataPlane({
    bootstrap: init.bootstrap,
    workerIndex: init.workerIndex,
    registry: createBuiltinRegistry(),
    stats,
    hostTable,
    circuitBreakers,
    healthCheckFailed: new SharedFlag(init.healthCheckFailed),
    nativeEngine,
    // The primary's detector decides on the ejection at once (Envoy posts to its main thread too).
    outlierThreshold: (slot, detector) => post({ type: 'outlier-threshold', slot, detector }),
  });
  // DNS clusters get their first hosts before this worker takes traffic.
  await services.clusterManager.initialize();
  const ports: Record<string, number> = {};
  try {
    for (let i = 0; i < listeners.length; i++) {
      const plan = init.listeners.find((p) => p.name === listeners[i]!.config.name)!;
      ports[plan.name] = await listeners[i]!.start(plan);
    }
  } catch (err) {
    // Close what did start: a thread that exits with a uWS listen socket open aborts the process.
    for (const l of listeners) l.close();
    throw err;
  }
  post({ type: 'ready', ports, paths: Object.fromEntries(listeners.map((l) => [l.config.name, l.path])) });

  const plane: LivePlane = {
    bootstrap: init.bootstrap,
    services,
    stats,
    hostTable,
    circuitBreakers,
    listeners,
    retiring: new Map(),
    // Every worker drains its own copy of a listener: one reports how many listeners drain.
    drainingGauge: init.workerIndex === 0 ? stats.gauge('listener_manager.total_listeners_draining') : null,
  };
  const balance = init.exactBalance === null ? null : ExactBalance.fromShared(init.exactBalance);
  parentPort!.on('message', (msg: PrimaryToWorker) => {
    if (msg.type === 'connection') adoptHandedConnection(balance!, init.workerIndex, listeners, msg.slot);
    else if (msg.type === 'log-level') setLogLevel(msg.level);
    else if (msg.type === 'reload') reload(plane, msg.next);
    else if (msg.type === 'drain') {
      heap.stop();
      drain(plane);
    } else if (process.env.LEGATE_TEST_HOOKS === '1') testHook(msg, heap);
  });
}

function reload(plane: LivePlane, next: ReloadGeneration): void {
  const native = loadNative();
  const dup = native === null ? null : (fd: number): number => native.dup(fd);
  applyReload(plane, next, dup).then(
    (outcome) => {
      post({ type: 'reloaded', generation: next.generation, ...outcome });
      scheduleCollection();
    },
    (err: unknown) => {
      log.error(`reload ${next.generation} failed: ${(err as Error).stack ?? String(err)}`);
      post({ type: 'reload-failed', generation: next.generation, error: (err as Error).message });
    },
  );
}

/** A full collection is due (set after a reload; several reloads in a row share one). */
let collection: NodeJS.Timeout | null = null;
/** How long after a reload the collection runs: reloads in a burst pay for one pause. */
const COLLECTION_DELAY_MS = 2000;

/**
 * What a reload replaced (listeners and clusters with their buffers, views of dropped stats
 * blocks) is external memory V8 frees at a full collection, which a worker that allocates little
 * reaches late: the RSS grew by ~100 KiB per reload per worker until then (README). One
 * collection pauses this worker for tens of ms, so it runs once per burst of reloads.
 */
function scheduleCollection(): void {
  if (collection !== null) return;
  collection = setTimeout(() => {
    collection = null;
    const started = performance.now();
    collectGarbage();
    log.debug(`full collection after reloads: ${(performance.now() - started).toFixed(1)} ms`);
  }, COLLECTION_DELAY_MS);
  collection.unref();
}

/** What the LEGATE_TEST_HOOKS=1 admin endpoints hold on this thread (allocate). */
const testAllocations: number[][] = [];

function testHook(msg: PrimaryToWorker, heap: HeapGauges): void {
  if (msg.type === 'crash') {
    setImmediate(() => {
      throw new Error('crash requested by the LEGATE_TEST_HOOKS admin endpoint');
    });
  } else if (msg.type === 'gc') {
    collectGarbage();
    heap.publish();
  } else if (msg.type === 'allocate') {
    // Doubles in a JS array: heap memory (a Buffer's bytes would be outside the V8 heap).
    testAllocations.push(new Array<number>(Math.ceil(msg.bytes / 8)).fill(0.5));
  }
}

/** exact_balance: serves the connection the primary put in mailbox `slot` (unless it took it back). */
function adoptHandedConnection(
  balance: ExactBalance,
  workerIndex: number,
  listeners: ActiveListener[],
  slot: number,
): void {
  const handed = balance.take(workerIndex, slot);
  if (handed === null) return;
  const listener = listeners.find((l) => l.config.name === handed.listener)!;
  const closed = (): void => balance.closed(handed.listener, workerIndex);
  if (listener.adoptFd(handed.fd, closed)) return;
  const socket = adoptSocketFd(handed.fd);
  socket.once('close', closed);
  listener.adopt(socket);
}

function drain(plane: LivePlane): void {
  const { listeners, services } = plane;
  let pending = listeners.length + plane.retiring.size;
  const finished = (): void => {
    if (--pending > 0) return;
    services.clusterManager.close();
    services.nativeEngine?.destroy();
    services.timers.close();
    services.date.close();
    // Writes what the access loggers still buffer; the thread stays alive until the writes land.
    closeAccessLogSinks();
    post({ type: 'drained' });
    // Nothing is left on this thread's event loop (listen sockets, pools and timers are closed),
    // so the thread ends by itself; the primary waits for its 'exit'.
    parentPort!.close();
  };
  if (pending === 0) {
    pending = 1;
    finished();
    return;
  }
  for (const l of listeners) l.drain(finished);
  // Listeners a reload replaced are draining already.
  for (const done of plane.retiring.values()) void done.then(finished);
}

main(workerData as WorkerInit).catch((err: unknown) => {
  log.error(`worker failed to start: ${(err as Error).stack ?? String(err)}`);
  post({ type: 'start-failed', error: (err as Error).message });
  process.exit(1);
});
