/**
 * Envoy's `cluster_manager.*` and `listener_manager.*` stats over config changes (startup, reload,
 * xDS update): what each change added, modified and removed, how many clusters and listeners serve,
 * and how many a change is building and warming before they serve.
 */
import type { Bootstrap } from '../config/bootstrap';
import { sameConfig } from '../config/same-config';
import type { Counter, Gauge, StatsStore } from '../stats/store';

interface KindStats {
  added: Counter;
  modified: Counter;
  removed: Counter;
  active: Gauge;
  warming: Gauge;
}

export class ManagerStats {
  private readonly clusters: KindStats;
  private readonly listeners: KindStats;

  constructor(stats: StatsStore, initial: Bootstrap) {
    this.clusters = {
      added: stats.counter('cluster_manager.cluster_added'),
      modified: stats.counter('cluster_manager.cluster_modified'),
      removed: stats.counter('cluster_manager.cluster_removed'),
      active: stats.gauge('cluster_manager.active_clusters'),
      warming: stats.gauge('cluster_manager.warming_clusters'),
    };
    this.listeners = {
      added: stats.counter('listener_manager.listener_added'),
      modified: stats.counter('listener_manager.listener_modified'),
      removed: stats.counter('listener_manager.listener_removed'),
      active: stats.gauge('listener_manager.total_listeners_active'),
      warming: stats.gauge('listener_manager.total_listeners_warming'),
    };
    this.clusters.added.add(initial.clusters.length);
    this.listeners.added.add(initial.listeners.length);
    this.settled(initial);
  }

  /** `next` replaces `previous`: counts the differences; what is new or changed is warming until `settled`. */
  changing(previous: Bootstrap, next: Bootstrap): void {
    this.clusters.warming.set(count(this.clusters, previous.clusters, next.clusters));
    this.listeners.warming.set(count(this.listeners, previous.listeners, next.listeners));
  }

  /** `current` serves (a change was applied, or not). */
  settled(current: Bootstrap): void {
    this.clusters.active.set(current.clusters.length);
    this.clusters.warming.set(0);
    this.listeners.active.set(current.listeners.length);
    this.listeners.warming.set(0);
  }
}

/** Counts added, modified and removed items; returns how many are added or modified. */
function count(
  stats: KindStats,
  previous: readonly { name: string }[],
  next: readonly { name: string }[],
): number {
  const before = new Map(previous.map((p) => [p.name, p]));
  const names = new Set(next.map((n) => n.name));
  let changed = 0;
  for (const item of next) {
    const old = before.get(item.name);
    if (old === undefined) stats.added.inc();
    else if (!sameConfig(old, item)) stats.modified.inc();
    else continue;
    changed++;
  }
  for (const name of before.keys()) if (!names.has(name)) stats.removed.inc();
  return changed;
}
