/**
 * What every policy does with a host set before balancing over it, so the policies themselves only
 * pick: keep the healthy hosts of the best (lowest-numbered) priority level that has any — unless
 * the cluster is in panic mode (below), where health is ignored.
 *
 * This is strict priority failover: traffic moves to priority 1 only when priority 0 has no healthy
 * host at all. Envoy spreads load across levels gradually (a level keeps `healthy% × 1.4` of the
 * traffic, the overprovisioning factor); that is not implemented yet.
 *
 * Panic mode (`common_lb_config.healthy_panic_threshold`, default 50 %): when fewer than that share
 * of the cluster's hosts are healthy, the few healthy ones would be overwhelmed, so the LB balances
 * over every host of the best priority level, healthy or not, as Envoy does. Legate compares the
 * share over the whole cluster (Envoy per level, after overprovisioning); the two agree for
 * single-priority clusters. A threshold of 0 disables panic mode.
 */
import type { Host } from '../host';
import type { LbEnv, LoadBalancer } from './api';

/** Envoy's default `healthy_panic_threshold`, in percent. */
export const DEFAULT_HEALTHY_PANIC_THRESHOLD = 50;

/** Whether a cluster with these hosts is in panic mode under `thresholdPercent`. */
export function inPanic(hosts: readonly Host[], thresholdPercent: number): boolean {
  if (hosts.length === 0 || thresholdPercent <= 0) return false;
  let healthy = 0;
  for (const h of hosts) if (h.healthy) healthy++;
  return healthy * 100 < thresholdPercent * hosts.length;
}

export function usableHosts(hosts: readonly Host[], env: Pick<LbEnv, 'healthyPanicThreshold'>): Host[] {
  const panic = inPanic(hosts, env.healthyPanicThreshold ?? 0);
  let best = Infinity;
  for (const h of hosts) if ((panic || h.healthy) && h.priority < best) best = h.priority;
  return hosts.filter((h) => (panic || h.healthy) && h.priority === best);
}

export function allWeightsEqual(hosts: readonly Host[]): boolean {
  for (const h of hosts) if (h.weight !== hosts[0]!.weight) return false;
  return true;
}

/**
 * `hosts` ordered by `address:port`: consistent-hashing tables built from it are the same in every
 * worker, whatever order discovery listed the hosts in.
 */
export function sortedByKey(hosts: readonly Host[]): Host[] {
  return [...hosts].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The balancer over an empty (or all-unhealthy) set. */
export const NO_HOST_LB: LoadBalancer = Object.freeze({ chooseHost: () => null });

/** The balancer over a set of one: no policy needed. */
export class SingleHostLb implements LoadBalancer {
  constructor(private readonly host: Host) {}
  chooseHost(): Host {
    return this.host;
  }
}

/**
 * The LB for 0 or 1 usable hosts, or null when the policy must build its own. Every policy starts
 * its `create` with this, so the trivial cases behave the same everywhere.
 */
export function trivialLb(hosts: readonly Host[]): LoadBalancer | null {
  if (hosts.length === 0) return NO_HOST_LB;
  if (hosts.length === 1) return new SingleHostLb(hosts[0]!);
  return null;
}
