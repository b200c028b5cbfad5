/**
 * RING_HASH (`envoy.load_balancing_policies.ring_hash`): Karger's consistent hashing, built as
 * Envoy builds it. Every host gets points on a 32-bit ring, `xxHash32("<address:port>_<i>")` for
 * i = 0, 1, …, as many as its share of the weight of a ring of
 * `min(ceil(min_weight_share × minimum_ring_size) / min_weight_share, maximum_ring_size)` points;
 * a request goes to the first point at or after its hash (wrapping around). Adding or removing one
 * of N hosts moves only the keys on that host's arcs, about 1/N of them.
 *
 * Requests without a hash key (no route hash_policy, or nothing to hash) land at a random point,
 * so load spreads by arc length: close to even, not exactly (hence a ring of >= 1024 points).
 */
import type { ObjectReader } from '../../config/config-reader';
import type { Host } from '../host';
import type { LbContext, LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { rejectUnsupported } from '../../config/unsupported';
import { CONSISTENT_HASH_UNSUPPORTED_FIELDS, hashOrRandom, xxHash32 } from './hash';
import { sortedByKey, trivialLb } from './host-set';

export interface RingHashConfig {
  minimumRingSize: number;
  maximumRingSize: number;
}

/** Envoy's defaults and its upper bound for both sizes. */
const DEFAULT_MIN_RING = 1024;
const DEFAULT_MAX_RING = 8 * 1024 * 1024;
const RING_SIZE_LIMIT = 8 * 1024 * 1024;
/** Sort key = hash × 2^20 + host index: exact in a double for up to 2^20 hosts. */
const HOST_INDEX_RANGE = 1 << 20;

class RingHashLb implements LoadBalancer {
  /** Point positions, ascending. */
  private readonly points: Uint32Array;
  /** Index into `hosts` of each point's owner. */
  private readonly owners: Int32Array;

  constructor(
    private readonly hosts: readonly Host[],
    config: RingHashConfig,
    private readonly env: LbEnv,
  ) {
    const keys = buildRing(hosts, config);
    this.points = new Uint32Array(keys.length);
    this.owners = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const owner = keys[i]! % HOST_INDEX_RANGE;
      this.owners[i] = owner;
      this.points[i] = (keys[i]! - owner) / HOST_INDEX_RANGE;
    }
  }

  chooseHost(ctx: LbContext): Host {
    const hash = hashOrRandom(ctx.hashKey, this.env.random);
    const points = this.points;
    // First point >= hash; past the last point wraps to the first.
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[this.owners[lo === points.length ? 0 : lo]!]!;
  }
}

/**
 * The ring's points as sorted sort keys (hash × HOST_INDEX_RANGE + host index). A host gets
 * `weight × pointsPerWeight` points, where a host of the least weight gets its share of
 * minimum_ring_size rounded *up to a power of two*. Envoy does not round: there, adding a sixth host
 * to five shrinks every host's point count (1024/5 → 1024/6) and moves ~27 % of the keys instead of
 * 1/6. With the rounding, counts stay put for most host-set changes, so only ~1/N of the keys move;
 * the price is a ring of up to twice minimum_ring_size. Counts depend on each host alone (not on
 * host order), so every worker builds the same ring.
 */
function buildRing(hosts: readonly Host[], config: RingHashConfig): Float64Array {
  let total = 0;
  let minWeight = Infinity;
  for (const h of hosts) {
    total += h.weight;
    if (h.weight < minWeight) minWeight = h.weight;
  }
  const minHostPoints = Math.ceil((config.minimumRingSize * minWeight) / total);
  let pointsPerWeight = 2 ** Math.ceil(Math.log2(minHostPoints)) / minWeight;
  if (pointsPerWeight * total > config.maximumRingSize) pointsPerWeight = config.maximumRingSize / total;
  const keys: number[] = [];
  for (let i = 0; i < hosts.length; i++) {
    const host = hosts[i]!;
    const points = Math.max(1, Math.floor(pointsPerWeight * host.weight));
    for (let n = 0; n < points; n++) keys.push(xxHash32(`${host.key}_${n}`) * HOST_INDEX_RANGE + i);
  }
  return Float64Array.from(keys).sort();
}

function readRingHash(r: ObjectReader): RingHashConfig {
  const hashFunction = r.enumValue('hash_function', ['XX_HASH', 'MURMUR_HASH_2'] as const, 'XX_HASH');
  if (hashFunction !== 'XX_HASH') r.error('hash_function', 'only XX_HASH is supported by Legate');
  rejectUnsupported(r, CONSISTENT_HASH_UNSUPPORTED_FIELDS);
  const config: RingHashConfig = {
    minimumRingSize: r.wrappedUint('minimum_ring_size', DEFAULT_MIN_RING, { min: 1, max: RING_SIZE_LIMIT }),
    maximumRingSize: r.wrappedUint('maximum_ring_size', DEFAULT_MAX_RING, { min: 1, max: RING_SIZE_LIMIT }),
  };
  if (config.minimumRingSize > config.maximumRingSize)
    r.error('minimum_ring_size', `is larger than maximum_ring_size (${config.maximumRingSize})`);
  r.done();
  return config;
}

export const ringHashFactory: LbPolicyFactory<RingHashConfig> = {
  category: 'lb_policy',
  name: 'envoy.load_balancing_policies.ring_hash',
  typeUrls: ['type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash'],
  enumName: 'RING_HASH',
  hashesRequests: true,

  parseConfig(cluster: ObjectReader | null): RingHashConfig {
    const ring = cluster?.object('ring_hash_lb_config');
    return ring
      ? readRingHash(ring)
      : { minimumRingSize: DEFAULT_MIN_RING, maximumRingSize: DEFAULT_MAX_RING };
  },

  parseTypedConfig(typed: ObjectReader | null): RingHashConfig {
    return typed
      ? readRingHash(typed)
      : { minimumRingSize: DEFAULT_MIN_RING, maximumRingSize: DEFAULT_MAX_RING };
  },

  create(hosts: readonly Host[], config: RingHashConfig, env: LbEnv): LoadBalancer {
    return trivialLb(hosts) ?? new RingHashLb(sortedByKey(hosts), config, env);
  },
};
