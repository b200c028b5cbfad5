/**
 * RING_HASH and MAGLEV: the properties each promises beyond the conformance suite (the same key
 * always reaches the same host; adding or removing one of N hosts moves about 1/N of the keys;
 * Maglev's table is balanced), their config, and the xxHash32 they share with route hash policies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../src/registry/registry';
import type { LbPolicyFactory } from '../../src/upstream/lb/api';
import { xxHash32 } from '../../src/upstream/lb/hash';
import { maglevFactory, type MaglevConfig } from '../../src/upstream/lb/maglev';
import { ringHashFactory, type RingHashConfig } from '../../src/upstream/lb/ring-hash';
import type { Host } from '../../src/upstream/host';
import { lbEnv, makeHosts, readerFor } from './helpers';

const ctx = { registry: new Registry() };
const KEYS = 20_000;

test('xxHash32 matches the reference test vectors', () => {
  assert.equal(xxHash32(''), 0x02cc5d05);
  assert.equal(xxHash32('a'), 0x550d7456);
  assert.equal(xxHash32('abc'), 0x32d153ff);
  assert.equal(xxHash32('Nobody inspects the spammish repetition'), 0xe2293b2f);
  assert.equal(xxHash32('abc', 1) !== xxHash32('abc'), true, 'the seed changes the hash');
});

/** host key picked for each of KEYS hash keys. */
function placement(factory: LbPolicyFactory, config: unknown, hosts: Host[], seed = 1): string[] {
  const { table } = makeHosts(hosts.map(() => 1));
  const lb = factory.create(hosts, config, lbEnv(table, seed));
  const out: string[] = [];
  for (let k = 0; k < KEYS; k++) out.push(lb.chooseHost({ hashKey: xxHash32(`key-${k}`) })!.key);
  return out;
}

const POLICIES: [string, LbPolicyFactory, unknown][] = [
  [
    'RING_HASH',
    ringHashFactory,
    { minimumRingSize: 1024, maximumRingSize: 8 << 20 } satisfies RingHashConfig,
  ],
  ['MAGLEV', maglevFactory, { tableSize: 65537 } satisfies MaglevConfig],
];

for (const [name, factory, config] of POLICIES) {
  test(`${name}: the same key always reaches the same host, in every worker`, () => {
    const { hosts } = makeHosts([1, 1, 1, 1, 1]);
    const first = placement(factory, config, hosts);
    // Another worker builds its own balancer (other random seed, hosts in another order).
    const again = placement(factory, config, [...hosts].reverse(), 2);
    assert.deepEqual(again, first);
    assert.equal(new Set(first).size, 5, 'every host gets keys');
  });

  test(`${name}: adding or removing one of N hosts moves about 1/N of the keys`, () => {
    const { hosts } = makeHosts([1, 1, 1, 1, 1, 1]);
    const five = placement(factory, config, hosts.slice(0, 5));
    const six = placement(factory, config, hosts, 3);
    let moved = 0;
    let shuffled = 0;
    for (let k = 0; k < KEYS; k++) {
      if (five[k] === six[k]) continue;
      moved++;
      if (six[k] !== hosts[5]!.key) shuffled++;
    }
    // Ideal: 1/6 of the keys, all to the new host. A ring achieves it exactly; Maglev trades a
    // little movement among the old hosts for its balance.
    assert.ok(Math.abs(moved / KEYS - 1 / 6) < 0.03, `${name}: ${moved / KEYS} of the keys moved`);
    assert.ok(shuffled / KEYS < 0.02, `${name}: ${shuffled / KEYS} moved between old hosts`);
    if (name === 'RING_HASH') assert.equal(shuffled, 0);

    // Removing host 2 of the five: only its keys move.
    const without = placement(factory, config, [hosts[0]!, hosts[1]!, hosts[3]!, hosts[4]!], 4);
    let movedOther = 0;
    for (let k = 0; k < KEYS; k++) if (five[k] !== hosts[2]!.key && without[k] !== five[k]) movedOther++;
    assert.ok(movedOther / KEYS < 0.02, `${name}: ${movedOther / KEYS} of other hosts' keys moved`);
  });
}

test('MAGLEV: every host gets its weight share of the table to within a few entries', () => {
  const { hosts, table } = makeHosts([1, 1, 1, 1, 1, 1, 1]);
  const lb = maglevFactory.create(hosts, { tableSize: 65537 }, lbEnv(table)) as unknown as {
    table: Int32Array;
  };
  const counts = new Array<number>(hosts.length).fill(0);
  for (const owner of lb.table) counts[owner]!++;
  for (const c of counts) assert.ok(Math.abs(c - 65537 / 7) <= 1, `entries per host: ${counts.join(' ')}`);

  const weighted = makeHosts([1, 2, 5]);
  const wlb = maglevFactory.create(
    weighted.hosts,
    { tableSize: 65537 },
    lbEnv(weighted.table),
  ) as unknown as {
    table: Int32Array;
  };
  const wcounts = [0, 0, 0];
  for (const owner of wlb.table) wcounts[owner]!++;
  [1, 2, 5].forEach((w, i) => {
    assert.ok(Math.abs(wcounts[i]! / 65537 - w / 8) < 0.001, `weighted entries: ${wcounts.join(' ')}`);
  });
});

test('RING_HASH: the ring has minimum_ring_size points, more for uneven weights, at most maximum_ring_size', () => {
  const ringSize = (weights: number[], config: RingHashConfig): number => {
    const { hosts, table } = makeHosts(weights);
    return (ringHashFactory.create(hosts, config, lbEnv(table)) as unknown as { points: Uint32Array }).points
      .length;
  };
  assert.equal(ringSize([1, 1, 1, 1], { minimumRingSize: 1024, maximumRingSize: 8 << 20 }), 1024);
  // The lightest host (1 of 10) must get ceil(0.1 × 1024) = 103 points, rounded up to 128: 1280 in all.
  assert.equal(ringSize([1, 9], { minimumRingSize: 1024, maximumRingSize: 8 << 20 }), 1280);
  assert.equal(ringSize([1, 1, 1, 1, 1], { minimumRingSize: 1024, maximumRingSize: 8 << 20 }), 5 * 256);
  assert.equal(ringSize([1, 1], { minimumRingSize: 4096, maximumRingSize: 100 }), 100);
});

test('ring_hash_lb_config and maglev_lb_config are read, with located errors', () => {
  const ring = readerFor('ring_hash_lb_config: { minimum_ring_size: 2048, maximum_ring_size: 4096 }');
  assert.deepEqual(ringHashFactory.parseConfig(ring.reader, ctx), {
    minimumRingSize: 2048,
    maximumRingSize: 4096,
  });
  assert.deepEqual(ring.issues(), []);

  const bad = readerFor(
    'ring_hash_lb_config: { minimum_ring_size: 9000, maximum_ring_size: 100, hash_function: MURMUR_HASH_2 }',
  );
  ringHashFactory.parseConfig(bad.reader, ctx);
  const errors = bad.issues().map((i) => i.path);
  assert.ok(errors.some((p) => p.endsWith('minimum_ring_size')));
  assert.ok(errors.some((p) => p.endsWith('hash_function')));

  const maglev = readerFor('maglev_lb_config: { table_size: 65536 }');
  assert.deepEqual(maglevFactory.parseConfig(maglev.reader, ctx), { tableSize: 65537 });
  assert.match(maglev.issues()[0]!.message, /not a prime/);
  const ok = readerFor('maglev_lb_config: { table_size: 251 }');
  assert.deepEqual(maglevFactory.parseConfig(ok.reader, ctx), { tableSize: 251 });
});
