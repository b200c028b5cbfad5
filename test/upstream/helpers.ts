/**
 * Shared fixtures for the upstream tests: hosts in a real shared host table, a seeded random source
 * (so distribution tests are reproducible, yet still fail if the algorithm is wrong), a config
 * reader over YAML text, and cluster configs with Envoy's defaults.
 */
import type { ClusterTypeFactory } from '../../src/upstream/discovery/api';
import type { ClusterConfig, EndpointConfig } from '../../src/config/bootstrap';
import { IssueList } from '../../src/config/config-error';
import type { ConfigIssue, ObjectReader } from '../../src/config/config-reader';
import { ReaderSession } from '../../src/config/object-reader';
import { YamlSources } from '../../src/config/yaml-source';
import { monotonicMs } from '../../src/common/timer-wheel';
import { Host } from '../../src/upstream/host';
import { HostTable } from '../../src/upstream/host-table';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { isLbPolicyFactory, type LbEnv, type LbPolicyFactory } from '../../src/upstream/lb/api';

/** mulberry32: a tiny deterministic PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A cluster as the config loader makes it, its host-table needs filled in by its type's factory. */
export function clusterConfig(overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  const type = createBuiltinRegistry().byEnumName(
    'cluster_type',
    overrides.type ?? 'STATIC',
  ) as ClusterTypeFactory;
  const endpoints = overrides.endpoints ?? [];
  return {
    slotCapacity: type.slotCapacity(endpoints),
    slotPerEndpoint: type.slotPerEndpoint,
    at: 'static_resources.clusters[0]',
    name: 'test',
    type: 'STATIC',
    connectTimeoutMs: 5000,
    lbPolicy: 'ROUND_ROBIN',
    lbConfig: {},
    endpoints: [],
    perConnectionBufferLimitBytes: 1 << 20,
    idleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    dnsRefreshRateMs: 5000,
    dnsLookupFamily: 'AUTO',
    ...overrides,
  };
}

export function endpoint(address: string, port: number, weight = 1, priority = 0): EndpointConfig {
  return { address: { address, port }, weight, priority };
}

/** `weights.length` hosts 10.0.0.1.. in a fresh STATIC cluster of a fresh table. */
export function makeHosts(weights: number[], priorities: number[] = []): { hosts: Host[]; table: HostTable } {
  const config = clusterConfig({
    endpoints: weights.map((w, i) => endpoint(`10.0.0.${i + 1}`, 80, w, priorities[i] ?? 0)),
  });
  const table = HostTable.allocate([config]);
  const hosts = config.endpoints.map(
    (e, i) => new Host(i, e.address.address, e.address.port, e.weight, e.priority),
  );
  return { hosts, table };
}

export function lbEnv(table: HostTable, seed = 1): LbEnv {
  return { hostTable: table, random: seededRandom(seed), nowMs: monotonicMs };
}

/** A reader over the YAML mapping `text`, through the real config reader; `issues()` after reading. */
export function readerFor(text: string): { reader: ObjectReader; issues: () => ConfigIssue[] } {
  const issues = new IssueList();
  const sources = new YamlSources(issues);
  const map = sources.parse('<test>', text);
  if (map === null) throw new Error(`bad test YAML: ${JSON.stringify(issues.sorted())}`);
  const reader = new ReaderSession(sources, issues).root(map);
  return { reader, issues: () => issues.sorted() };
}

/** Counts how often each host is picked in `n` picks. */
export function countPicks(pick: () => Host | null, n: number): Map<Host | null, number> {
  const counts = new Map<Host | null, number>();
  for (let i = 0; i < n; i++) {
    const h = pick();
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  return counts;
}

/** Rejects if `promise` does not settle within `ms` (and leaves no timer behind either way). */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 5 ms for up to 2 s; throws naming `what` if it never holds. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

/** Every load-balancing policy in the builtin registry (so new policies join the suites by themselves). */
export function registeredLbPolicies(): LbPolicyFactory[] {
  const registry = createBuiltinRegistry();
  return registry
    .enumNames('lb_policy')
    .map((name) => registry.byEnumName('lb_policy', name)!)
    .filter(isLbPolicyFactory);
}
