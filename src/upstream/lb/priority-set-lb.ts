/**
 * The balancer over a whole cluster (Envoy's priority set): one policy balancer per priority level
 * that takes load, each over exactly the hosts it may pick (the level's healthy hosts, or all of
 * them when the level is in panic), and a pick that first chooses the level by its share of the
 * traffic (priority-load.ts), then asks that level's balancer.
 *
 * The level is chosen from a point in 0..99, as Envoy's `choosePriority`: a random draw, or for
 * consistent-hashing policies the request's hash (so a key keeps its level as long as the loads
 * stay put). When a single level takes all the load, which is the usual case, the result is that
 * level's balancer itself: a single-level cluster pays nothing per pick for priorities.
 */
import type { Host } from '../host';
import type { LbContext, LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { NO_HOST_LB } from './host-set';
import { computePriorityLoad, levelCounts, type PrioritySettings } from './priority-load';

export interface PrioritySet {
  /** Picks over the whole cluster. */
  readonly lb: LoadBalancer;
  /** Percent of the traffic per priority level. */
  readonly load: readonly number[];
  /**
   * Per priority: whether a pick from that level is a panic pick (lb_healthy_panic); null when no
   * level that takes load is in panic, so the common case costs one null check per pick.
   */
  readonly panic: readonly boolean[] | null;
}

/** Builds the cluster's balancer over `hosts` (all priorities, healthy or not) with `factory`'s policy. */
export function buildPrioritySet<C>(
  hosts: readonly Host[],
  factory: LbPolicyFactory<C>,
  config: C,
  env: LbEnv,
  settings: PrioritySettings,
): PrioritySet {
  const levels = byPriority(hosts);
  const { load, panic } = computePriorityLoad(levels.map(levelCounts), settings);
  const lbs: LoadBalancer[] = levels.map((levelHosts, p) =>
    load[p]! > 0
      ? factory.create(panic[p] ? levelHosts : levelHosts.filter((h) => h.healthy), config, env)
      : NO_HOST_LB,
  );
  const loaded = load.filter((l) => l > 0).length;
  const lb =
    loaded === 0
      ? NO_HOST_LB
      : loaded === 1
        ? lbs[load.findIndex((l) => l > 0)]!
        : new PrioritySetLb(lbs, load, env, factory.hashesRequests === true);
  const anyPanic = panic.some((inPanic, p) => inPanic && load[p]! > 0);
  return { lb, load, panic: anyPanic ? panic : null };
}

/** `hosts` grouped by priority: index p holds the hosts of priority p (empty levels included, as Envoy's). */
function byPriority(hosts: readonly Host[]): Host[][] {
  const levels: Host[][] = [];
  for (const h of hosts) {
    while (levels.length <= h.priority) levels.push([]);
    levels[h.priority]!.push(h);
  }
  return levels;
}

/** Picks the level with one draw over the loads, then delegates. Only built for two or more loaded levels. */
export class PrioritySetLb implements LoadBalancer {
  /** cumulative[p] = load of levels 0..p; the last is 100. */
  private readonly cumulative: Int32Array;

  constructor(
    private readonly levels: readonly LoadBalancer[],
    load: readonly number[],
    private readonly env: LbEnv,
    /** Choose the level from the request's hash when it has one (consistent-hashing policies). */
    private readonly byHash: boolean,
  ) {
    this.cumulative = new Int32Array(load.length);
    let sum = 0;
    for (let p = 0; p < load.length; p++) this.cumulative[p] = sum += load[p]!;
  }

  chooseHost(ctx: LbContext): Host | null {
    const key = ctx.hashKey;
    const point = this.byHash && key !== null ? key % 100 : Math.floor(this.env.random() * 100);
    const cumulative = this.cumulative;
    let p = 0;
    while (point >= cumulative[p]!) p++;
    return this.levels[p]!.chooseHost(ctx);
  }
}
