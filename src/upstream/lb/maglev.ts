/**
 * MAGLEV (`envoy.load_balancing_policies.maglev`): Google's Maglev consistent hashing (NSDI '16),
 * with Envoy's weighting. A lookup table of `table_size` entries (a prime, default 65537) is filled
 * by letting hosts take turns claiming the next free entry of their own permutation of the table
 * (offset = xxHash32(key, 0) mod M, skip = xxHash32(key, 1) mod (M − 1) + 1); a host of weight w
 * takes a turn in w / max-weight of the rounds. Every host ends up with its weight's share of the
 * entries to within one entry per round (far more even than a ring), and removing a host reassigns
 * mostly that host's entries. A request goes to `table[hash mod M]`; without a hash key, to a
 * random entry. Hosts take their turns in order of `address:port`, so every worker builds the same
 * table whatever order its host list is in.
 */
import type { ObjectReader } from '../../config/config-reader';
import type { Host } from '../host';
import type { LbContext, LbEnv, LbPolicyFactory, LoadBalancer } from './api';
import { rejectUnsupported } from '../../config/unsupported';
import { CONSISTENT_HASH_UNSUPPORTED_FIELDS, hashOrRandom, xxHash32 } from './hash';
import { sortedByKey, trivialLb } from './host-set';

export interface MaglevConfig {
  tableSize: number;
}

const DEFAULT_TABLE_SIZE = 65537;
/** Envoy's upper bound for table_size. */
const MAX_TABLE_SIZE = 5_000_011;

class MaglevLb implements LoadBalancer {
  /** Entry → index into `hosts`. */
  readonly table: Int32Array;

  constructor(
    private readonly hosts: readonly Host[],
    tableSize: number,
    private readonly env: LbEnv,
  ) {
    this.table = buildTable(hosts, tableSize);
  }

  chooseHost(ctx: LbContext): Host {
    const hash = hashOrRandom(ctx.hashKey, this.env.random);
    return this.hosts[this.table[hash % this.table.length]!]!;
  }
}

function buildTable(hosts: readonly Host[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const n = hosts.length;
  const position = new Float64Array(n);
  const skip = new Float64Array(n);
  const credit = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const key = hosts[i]!.key;
    position[i] = xxHash32(key, 0) % size;
    skip[i] = (xxHash32(key, 1) % (size - 1)) + 1;
    if (hosts[i]!.weight > maxWeight) maxWeight = hosts[i]!.weight;
  }
  let filled = 0;
  for (let round = 1; filled < size; round++) {
    for (let i = 0; i < n && filled < size; i++) {
      // A host of weight w claims an entry in w / maxWeight of the rounds (Envoy's target_weight).
      if (round * hosts[i]!.weight < credit[i]!) continue;
      credit[i] = credit[i]! + maxWeight;
      let c = position[i]!;
      while (table[c] !== -1) c = (c + skip[i]!) % size;
      table[c] = i;
      position[i] = (c + skip[i]!) % size;
      filled++;
    }
  }
  return table;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function readMaglev(r: ObjectReader): MaglevConfig {
  rejectUnsupported(r, CONSISTENT_HASH_UNSUPPORTED_FIELDS);
  const tableSize = r.wrappedUint('table_size', DEFAULT_TABLE_SIZE, { max: MAX_TABLE_SIZE });
  if (!isPrime(tableSize))
    r.error('table_size', `${tableSize} is not a prime number (Maglev needs one, e.g. 65537)`);
  r.done();
  return { tableSize: isPrime(tableSize) ? tableSize : DEFAULT_TABLE_SIZE };
}

export const maglevFactory: LbPolicyFactory<MaglevConfig> = {
  category: 'lb_policy',
  name: 'envoy.load_balancing_policies.maglev',
  typeUrls: ['type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev'],
  enumName: 'MAGLEV',
  hashesRequests: true,

  parseConfig(cluster: ObjectReader | null): MaglevConfig {
    const maglev = cluster?.object('maglev_lb_config');
    return maglev ? readMaglev(maglev) : { tableSize: DEFAULT_TABLE_SIZE };
  },

  parseTypedConfig(typed: ObjectReader | null): MaglevConfig {
    return typed ? readMaglev(typed) : { tableSize: DEFAULT_TABLE_SIZE };
  },

  create(hosts: readonly Host[], config: MaglevConfig, env: LbEnv): LoadBalancer {
    return trivialLb(hosts) ?? new MaglevLb(sortedByKey(hosts), config.tableSize, env);
  },
};
