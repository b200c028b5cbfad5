/**
 * How much of a cluster's traffic each priority level takes, and which levels are in panic mode:
 * Envoy's `LoadBalancerBase::recalculatePerPriorityState` / `recalculatePerPriorityPanic` /
 * `recalculateLoadInTotalPanic`, in the same integer arithmetic so the percentages match Envoy's.
 *
 * - A level's health is `min(100, overprovisioning_factor × healthy / hosts)` (factor in percent,
 *   140 by default): a level with at least ~72 % healthy hosts counts as fully healthy.
 * - Levels take load in priority order, each `health × 100 / normalized total health` (the total
 *   capped at 100), until 100 % is handed out; rounding leftovers go to the first level with health.
 *   So P0 with 2 of 5 hosts healthy (health 56) keeps 56 % and spills 44 % to a healthy P1.
 * - Panic (`healthy_panic_threshold`): only while the normalized total health is below 100, a level
 *   whose healthy share is below the threshold balances over all of its hosts, healthy or not.
 *   When every level is in panic, load follows the host count of each level instead of health.
 *
 * Degraded hosts and excluded hosts do not exist in Legate, so their terms are left out.
 */
import type { Host } from '../host';

/** Envoy's default `healthy_panic_threshold`, in percent. */
export const DEFAULT_HEALTHY_PANIC_THRESHOLD = 50;

/** Envoy's default `overprovisioning_factor` (percent: 140 means 1.4). */
export const DEFAULT_OVERPROVISIONING_FACTOR = 140;

/** What the computation needs from the cluster config. */
export interface PrioritySettings {
  /** `load_assignment.policy.overprovisioning_factor`, percent (> 0). */
  readonly overprovisioningFactor: number;
  /** `common_lb_config.healthy_panic_threshold`, percent; 0 disables panic mode. */
  readonly healthyPanicThreshold: number;
  /** `load_assignment.policy.weighted_priority_health`: health from weights instead of host counts. */
  readonly weightedPriorityHealth: boolean;
}

/** One level's hosts as the computation sees them. */
export interface LevelCounts {
  readonly hosts: number;
  readonly healthy: number;
  readonly weight: number;
  readonly healthyWeight: number;
}

export interface PriorityLoad {
  /** Integer percent of the traffic per level (index = priority); sums to 100 unless there are no levels. */
  readonly load: readonly number[];
  /** Per level: balance over all of its hosts (healthy or not). */
  readonly panic: readonly boolean[];
}

export function levelCounts(hosts: readonly Host[]): LevelCounts {
  let healthy = 0;
  let weight = 0;
  let healthyWeight = 0;
  for (const h of hosts) {
    weight += h.weight;
    if (!h.healthy) continue;
    healthy++;
    healthyWeight += h.weight;
  }
  return { hosts: hosts.length, healthy, weight, healthyWeight };
}

export function computePriorityLoad(
  levels: readonly LevelCounts[],
  settings: PrioritySettings,
): PriorityLoad {
  const health = levels.map((l) => levelHealth(l, settings));
  const normalizedTotal = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );
  const load = new Array<number>(levels.length).fill(0);
  const panic = new Array<boolean>(levels.length).fill(false);
  if (levels.length === 0) return { load, panic };
  if (normalizedTotal > 0) distributeByHealth(load, health, normalizedTotal);

  const threshold = Math.min(100, settings.healthyPanicThreshold);
  if (threshold <= 0 && normalizedTotal === 0) {
    // No healthy host anywhere and panic disabled: P0 nominally takes everything and finds no host.
    load[0] = 100;
    return { load, panic };
  }
  let totalPanic = true;
  for (let i = 0; i < levels.length; i++) {
    // Enough health in total: no level panics, however few healthy hosts it has itself.
    panic[i] = normalizedTotal < 100 && healthyPercent(levels[i]!) < threshold;
    totalPanic &&= panic[i]!;
  }
  if (totalPanic) distributeByHostCount(load, levels);
  return { load, panic };
}

function levelHealth(level: LevelCounts, settings: PrioritySettings): number {
  if (level.hosts === 0) return 0;
  const [healthy, total] = settings.weightedPriorityHealth
    ? [level.healthyWeight, level.weight]
    : [level.healthy, level.hosts];
  return Math.min(100, Math.floor((settings.overprovisioningFactor * healthy) / total));
}

/** Envoy's isHostSetInPanic input: healthy hosts as a percentage of the level's hosts (0 when empty). */
function healthyPercent(level: LevelCounts): number {
  return level.hosts === 0 ? 0 : (100 * level.healthy) / level.hosts;
}

function distributeByHealth(load: number[], health: readonly number[], normalizedTotal: number): void {
  let remaining = 100;
  let first = -1;
  for (let i = 0; i < health.length; i++) {
    if (first < 0 && health[i]! > 0) first = i;
    load[i] = Math.min(remaining, Math.floor((health[i]! * 100) / normalizedTotal));
    remaining -= load[i]!;
  }
  load[first]! += remaining;
}

function distributeByHostCount(load: number[], levels: readonly LevelCounts[]): void {
  let total = 0;
  for (const l of levels) total += l.hosts;
  load.fill(0);
  if (total === 0) {
    load[0] = 100;
    return;
  }
  let remaining = 100;
  let first = -1;
  for (let i = 0; i < levels.length; i++) {
    if (first < 0 && levels[i]!.hosts > 0) first = i;
    load[i] = Math.floor((100 * levels[i]!.hosts) / total);
    remaining -= load[i]!;
  }
  load[first]! += remaining;
}
