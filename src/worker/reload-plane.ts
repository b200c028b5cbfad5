/**
 * A worker's side of a reload: takes the primary's new config generation and swaps it in while
 * traffic flows. The shared tables first (new stats, host rows and circuit-breaker buffers become
 * bindable), then the clusters (`ClusterManager.update`: unchanged ones stay, the others are
 * built and warmed before one assignment swaps them in), then the listeners:
 * - unchanged (same config, and no filter of theirs holds a cluster the reload replaced): stay;
 * - only the routes of their HTTP connection managers changed: stay, with the new routes in place
 *   (`ActiveListener.updateRoutes`), so every connection's next request is routed by them;
 * - changed: a new listener is built and takes over the old one's listening socket
 *   (`ActiveListener.takeOver`), so new connections get the new filter chains and routes at once
 *   while the old listener's connections drain (HTTP: `Connection: close`, see common/drain.ts);
 * - added (or moved to another address): start on the socket the primary planned;
 * - removed: stop accepting and drain.
 * A request in flight finishes on the objects it started with: its route, cluster and pool; one
 * that arrives on a draining connection is routed by the old route table, to a removed cluster
 * if need be, until those connections are gone (`ClusterManager.releaseRemoved`).
 */
import type { Bootstrap } from '../config/bootstrap';
import { sameConfig } from '../config/same-config';
import { buildEach } from '../config/build-error';
import { ActiveListener, type ListenerSocketPlan } from '../listener/active-listener';
import type { Gauge, StatsLayoutData, StatsStore } from '../stats/store';
import type { HostTable, SharedHostTable } from '../upstream/host-table';
import type { CircuitBreakerTable, SharedCircuitBreakers } from '../upstream/circuit-breakers';
import type { WorkerServices } from './services';

/** What the primary sends for one reload (PrimaryToWorker 'reload'). */
export interface ReloadGeneration {
  generation: number;
  bootstrap: Bootstrap;
  stats: StatsLayoutData;
  hostTable: SharedHostTable;
  circuitBreakers: SharedCircuitBreakers;
  /** Sockets for the listeners that are new or moved to another address, by name. */
  listeners: ListenerSocketPlan[];
}

/** One worker's live data plane, as a reload changes it. */
export interface LivePlane {
  bootstrap: Bootstrap;
  readonly services: WorkerServices;
  readonly stats: StatsStore;
  readonly hostTable: HostTable;
  readonly circuitBreakers: CircuitBreakerTable;
  /** The current listeners, in config order; replaced in place so every reader sees the new list. */
  readonly listeners: ActiveListener[];
  /** Listeners a reload replaced or removed, each with its drain's end. */
  readonly retiring: Map<ActiveListener, Promise<void>>;
  /** `listener_manager.total_listeners_draining`, on the one worker that reports it (else null). */
  readonly drainingGauge: Gauge | null;
}

export interface ReloadOutcome {
  /** Bound ports of the listeners this reload started. */
  ports: Record<string, number>;
  /** Per listener, whether the native engine or Node's sockets serve it. */
  paths: Record<string, 'native' | 'js'>;
}

export async function applyReload(
  plane: LivePlane,
  next: ReloadGeneration,
  dup: ((fd: number) => number) | null,
): Promise<ReloadOutcome> {
  plane.stats.update(next.stats);
  plane.hostTable.update(next.hostTable);
  plane.circuitBreakers.update(next.circuitBreakers);
  const before = new Map(plane.bootstrap.clusters.map((c) => [c.name, c]));
  const replacedClusters = new Set(
    [...before.values()]
      .filter(
        (c) =>
          !sameConfig(
            c,
            next.bootstrap.clusters.find((n) => n.name === c.name),
          ),
      )
      .map((c) => c.name),
  );
  await plane.services.clusterManager.update(next.bootstrap.clusters);
  plane.bootstrap = next.bootstrap;

  const current = new Map(plane.listeners.map((l) => [l.config.name, l]));
  const plans = new Map(next.listeners.map((p) => [p.name, p]));
  const kept = (config: Bootstrap['listeners'][number]): ActiveListener | null => {
    const old = current.get(config.name);
    if (old === undefined || plans.has(config.name)) return null;
    if (old.boundClusters().some((c) => replacedClusters.has(c))) return null;
    return sameConfig(old.config, config) || old.updateRoutes(config) ? old : null;
  };
  const built = buildEach(
    next.bootstrap.listeners.filter((c) => kept(c) === null),
    (config) => new ActiveListener(config, plane.services),
  );
  const builtByName = new Map(built.map((l) => [l.config.name, l]));
  const outcome: ReloadOutcome = { ports: {}, paths: {} };
  for (const listener of built) {
    const name = listener.config.name;
    const plan = plans.get(name);
    const old = current.get(name);
    outcome.ports[name] =
      plan !== undefined ? await listener.start(plan) : await listener.takeOver(old!, dup);
    outcome.paths[name] = listener.path;
  }
  const listeners = next.bootstrap.listeners.map((c) => builtByName.get(c.name) ?? current.get(c.name)!);
  const live = new Set(listeners);
  plane.listeners.splice(0, plane.listeners.length, ...listeners);
  const releaseRemovedClusters = (): void => {
    if (plane.retiring.size === 0) plane.services.clusterManager.releaseRemoved();
  };
  for (const old of current.values()) {
    if (live.has(old)) continue;
    // Registered before the drain starts: a listener with no connection drains at once.
    let drained = (): void => {};
    plane.retiring.set(old, new Promise((resolve) => (drained = resolve)));
    old.drain(() => {
      plane.retiring.delete(old);
      plane.drainingGauge?.set(plane.retiring.size);
      releaseRemovedClusters();
      drained();
    });
  }
  plane.drainingGauge?.set(plane.retiring.size);
  releaseRemovedClusters();
  return outcome;
}
