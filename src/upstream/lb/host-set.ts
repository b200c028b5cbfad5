/**
 * Helpers every policy shares for the host list it balances over (which the cluster has already
 * narrowed to one priority level's usable hosts, see priority-set-lb.ts): the trivial balancers for
 * 0 and 1 hosts, a weight check, and a worker-independent host order.
 */
import type { Host } from '../host';
import type { LoadBalancer } from './api';

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

/** The balancer over an empty set (or a level without usable hosts). */
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
