/**
 * Entry point of a worker thread: builds this worker's data plane from the primary's validated
 * config (registry, clusters, listeners, filter chains — once), starts accepting, and drains when
 * the primary asks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PrimaryToWorker, WorkerInit, WorkerToPrimary } from './messages';
import { createBuiltinRegistry } from '../registry/builtins';
import { StatsStore } from '../stats/store';
import { closeAccessLogSinks } from '../access-log/sinks';
import { log, setLogLevel, setLogPrefix } from '../common/log';
import { HostTable } from '../upstream/host-table';
import { CircuitBreakerTable } from '../upstream/circuit-breakers';
import { ExactBalance } from '../listener/exact-balance';
import { adoptSocketFd } from '../native';
import { SharedFlag } from './shared-flag';
import { buildDataPlane } from './data-plane';
import type { ActiveListener } from '../listener/active-listener';
import type { WorkerServices } from './services';

function post(msg: WorkerToPrimary): void {
  parentPort!.postMessage(msg);
}

async function main(init: WorkerInit): Promise<void> {
  setLogLevel(init.logLevel);
  setLogPrefix(`worker ${init.workerIndex}`);
  const stats = new StatsStore(init.stats, 1 + init.workerIndex);
  stats.resetOwnGauges();
  const { services, listeners } = buildDataPlane({
    bootstrap: init.bootstrap,
    workerIndex: init.workerIndex,
    registry: createBuiltinRegistry(),
    stats,
    hostTable: HostTable.fromShared(init.hostTable),
    circuitBreakers: CircuitBreakerTable.fromShared(init.circuitBreakers),
    healthCheckFailed: new SharedFlag(init.healthCheckFailed),
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
  post({ type: 'ready', ports });

  const balance = init.exactBalance === null ? null : ExactBalance.fromShared(init.exactBalance);
  parentPort!.on('message', (msg: PrimaryToWorker) => {
    if (msg.type === 'connection') adoptHandedConnection(balance!, init.workerIndex, listeners, msg.slot);
    else if (msg.type === 'log-level') setLogLevel(msg.level);
    else if (msg.type === 'drain') drain(listeners, services);
    else if (msg.type === 'crash' && process.env.LEGATE_TEST_HOOKS === '1') {
      setImmediate(() => {
        throw new Error('crash requested by the LEGATE_TEST_HOOKS admin endpoint');
      });
    }
  });
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
  const socket = adoptSocketFd(handed.fd);
  socket.once('close', () => balance.closed(handed.listener, workerIndex));
  listener.adopt(socket);
}

function drain(listeners: ActiveListener[], services: WorkerServices): void {
  let pending = listeners.length;
  const finished = (): void => {
    if (--pending > 0) return;
    services.clusterManager.close();
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
}

main(workerData as WorkerInit).catch((err: unknown) => {
  log.error(`worker failed to start: ${(err as Error).stack ?? String(err)}`);
  post({ type: 'start-failed', error: (err as Error).message });
  process.exit(1);
});
