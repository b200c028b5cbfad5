/**
 * The load-balancing policy contract, in the shape of Envoy's `envoy/upstream/load_balancer.h` and
 * its `envoy.load_balancing_policies.*` factories.
 *
 * Lifecycle:
 * - Primary thread, once per cluster: the config loader finds the factory by the cluster's
 *   `lb_policy` enum (`enumName`) or by `load_balancing_policy` name / `@type`, and calls
 *   `parseConfig` with the reader of the *cluster* mapping; the factory reads only its own fields
 *   (e.g. `least_request_lb_config`) and returns plain data, stored as `ClusterConfig.lbConfig`.
 * - Each worker: `create(hosts, config, env)` builds a LoadBalancer over a snapshot of the host set.
 *   The snapshot is immutable: the cluster builds a new LoadBalancer whenever hosts are added or
 *   removed or a health flag changes (as Envoy rebuilds its per-thread LBs on host-set updates).
 *   The cluster builds one per priority level that takes traffic, over exactly the hosts to
 *   balance over, and chooses the level per pick (priority-set-lb.ts): policies never filter.
 * - Per request: `chooseHost(ctx)`, synchronous, allocation-free. Returns null when no host is
 *   usable (empty or all-unhealthy set); the router then answers 503 with response flag UH.
 */
import type { ObjectReader } from '../../config/config-reader';
import type { ExtensionFactory, ParseContext } from '../../registry/registry';
import type { Host } from '../host';
import type { HostTable } from '../host-table';

/** Per-request input to a pick (Envoy's LoadBalancerContext). */
export interface LbContext {
  /**
   * Hash of the request for consistent-hashing policies (RING_HASH, MAGLEV), from the route's
   * hash_policy (an unsigned 32-bit number, see router/hash-policy.ts); null when the route has
   * none or nothing in the request was hashable (those policies then pick at random). Policies
   * that do not hash ignore it.
   */
  readonly hashKey: number | null;
}

/** The context for requests with nothing to hash: share it instead of allocating one per request. */
export const NO_LB_CONTEXT: LbContext = Object.freeze({ hashKey: null });

/** What a worker gives every LoadBalancer it creates. Time and randomness are injected for tests. */
export interface LbEnv {
  /** Shared per-host counters (active requests of every worker). */
  readonly hostTable: HostTable;
  /** Uniform in [0, 1). */
  random(): number;
  /** Monotonic milliseconds, same origin in every thread. */
  nowMs(): number;
}

export interface LoadBalancer {
  /** Picks the host for one request, or null if none is usable. */
  chooseHost(ctx: LbContext): Host | null;
}

export interface LbPolicyFactory<C = unknown> extends ExtensionFactory<C> {
  readonly category: 'lb_policy';
  /** The cluster `lb_policy` enum value, e.g. 'ROUND_ROBIN'. */
  readonly enumName: string;
  /**
   * The policy places requests by their hash (RING_HASH, MAGLEV): the priority level is then chosen
   * from the hash too, as Envoy's thread-aware balancers do, so a key keeps its level.
   */
  readonly hashesRequests?: boolean;
  /**
   * Parses the `typed_config` of this policy inside a cluster's `load_balancing_policy` (the reader
   * is null when it has only `@type` or is absent). Without it, settings there are reported as
   * unsupported and `parseConfig(null)` gives the defaults. The result has parseConfig's shape.
   */
  parseTypedConfig?(typed: ObjectReader | null, ctx: ParseContext): C;
  /**
   * Builds a worker-local LoadBalancer over exactly `hosts`: one priority level's healthy hosts, or
   * all of its hosts when that level is in panic mode (possibly none). `config` is what
   * parseConfig returned.
   */
  create(hosts: readonly Host[], config: C, env: LbEnv): LoadBalancer;
}

/** Narrows a registry entry to an LB factory (the registry stores every category untyped). */
export function isLbPolicyFactory(f: ExtensionFactory): f is LbPolicyFactory {
  return f.category === 'lb_policy' && typeof (f as Partial<LbPolicyFactory>).create === 'function';
}
