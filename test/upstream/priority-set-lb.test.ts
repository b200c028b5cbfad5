/**
 * The cluster-wide balancer over priority levels: each level's policy balancer sees exactly the
 * hosts it may pick, levels are chosen in proportion to their load (seeded random), hashing
 * policies choose the level from the hash, and a single loaded level costs no extra draw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_LB_CONTEXT, type LbEnv } from '../../src/upstream/lb/api';
import type { PrioritySettings } from '../../src/upstream/lb/priority-load';
import { buildPrioritySet, PrioritySetLb } from '../../src/upstream/lb/priority-set-lb';
import { maglevFactory } from '../../src/upstream/lb/maglev';
import { roundRobinFactory } from '../../src/upstream/lb/round-robin';
import { countPicks, lbEnv, makeHosts } from './helpers';

const ENVOY: PrioritySettings = {
  overprovisioningFactor: 140,
  healthyPanicThreshold: 50,
  weightedPriorityHealth: false,
};
const PICKS = 20_000;

/** An env whose random draws are counted. */
function countingEnv(env: LbEnv): { env: LbEnv; draws: () => number } {
  let n = 0;
  return {
    env: { ...env, random: () => (n++, env.random()) },
    draws: () => n,
  };
}

test('P0 with 2 of 5 healthy: 56 % to its healthy hosts, 44 % to P1, by one draw per pick', () => {
  const { hosts, table } = makeHosts([1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]);
  for (const h of hosts.slice(0, 3)) h.healthy = false;
  const { env, draws } = countingEnv(lbEnv(table, 17));
  const set = buildPrioritySet(hosts, roundRobinFactory, {}, env, ENVOY);
  assert.deepEqual(set.load, [56, 44]);
  assert.equal(set.panic, null);
  assert.ok(set.lb instanceof PrioritySetLb);
  const before = draws();
  const counts = countPicks(() => set.lb.chooseHost(NO_LB_CONTEXT), PICKS);
  assert.equal(draws() - before, PICKS, 'one draw per pick (round robin itself draws none)');
  assert.ok(Math.abs(counts.get(hosts[5]!)! / PICKS - 0.44) < 0.015, `P1 got ${counts.get(hosts[5]!)}`);
  assert.ok(Math.abs(counts.get(hosts[3]!)! / PICKS - 0.28) < 0.015, `P0 host got ${counts.get(hosts[3]!)}`);
  for (const h of hosts.slice(0, 3)) assert.equal(counts.get(h), undefined);
});

test('a single loaded level is its policy balancer itself: no draw per pick', () => {
  const { hosts, table } = makeHosts([1, 1, 1, 1], [0, 0, 0, 1]);
  const { env, draws } = countingEnv(lbEnv(table, 3));
  const set = buildPrioritySet(hosts, roundRobinFactory, {}, env, ENVOY);
  assert.deepEqual(set.load, [100, 0]);
  assert.ok(!(set.lb instanceof PrioritySetLb));
  const before = draws();
  const counts = countPicks(() => set.lb.chooseHost(NO_LB_CONTEXT), 300);
  assert.equal(draws(), before);
  assert.deepEqual(
    hosts.map((h) => counts.get(h) ?? 0),
    [100, 100, 100, 0],
  );
});

test('a level in panic balances over all of its hosts; a level not in panic only over healthy ones', () => {
  // P0: 1 of 5 healthy (panic), P1: 5 of 10 healthy (not below 50 %). Loads 29 / 71.
  const { hosts, table } = makeHosts(new Array<number>(15).fill(1), [
    0,
    0,
    0,
    0,
    0,
    ...new Array<number>(10).fill(1),
  ]);
  for (const i of [1, 2, 3, 4, 10, 11, 12, 13, 14]) hosts[i]!.healthy = false;
  const set = buildPrioritySet(hosts, roundRobinFactory, {}, lbEnv(table, 5), ENVOY);
  assert.deepEqual(set.load, [29, 71]);
  assert.deepEqual(set.panic, [true, false]);
  const counts = countPicks(() => set.lb.chooseHost(NO_LB_CONTEXT), PICKS);
  for (let i = 0; i < 5; i++)
    assert.ok((counts.get(hosts[i]!) ?? 0) > 0, `P0 host ${i} never picked in panic`);
  for (let i = 10; i < 15; i++)
    assert.equal(counts.get(hosts[i]!), undefined, `unhealthy P1 host ${i} picked`);
  const p0 = hosts.slice(0, 5).reduce((n, h) => n + (counts.get(h) ?? 0), 0);
  assert.ok(Math.abs(p0 / PICKS - 0.29) < 0.015, `P0 got ${p0}`);
});

test('consistent hashing chooses the level from the hash: hash % 100 below P0 load stays on P0', () => {
  const { hosts, table } = makeHosts([1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]);
  for (const h of hosts.slice(0, 3)) h.healthy = false;
  const { env, draws } = countingEnv(lbEnv(table, 8));
  const set = buildPrioritySet(hosts, maglevFactory, { tableSize: 65537 }, env, ENVOY);
  assert.deepEqual(set.load, [56, 44]);
  const before = draws();
  for (let key = 0; key < 1000; key++) {
    const host = set.lb.chooseHost({ hashKey: key * 7919 })!;
    assert.equal(host.priority, (key * 7919) % 100 < 56 ? 0 : 1, `key ${key}`);
    assert.equal(set.lb.chooseHost({ hashKey: key * 7919 }), host, 'a key keeps its host');
  }
  assert.equal(draws(), before, 'no random draw for requests with a hash');
});

test('no hosts, or no usable host with panic disabled, yields null', () => {
  const empty = makeHosts([]);
  assert.equal(
    buildPrioritySet([], roundRobinFactory, {}, lbEnv(empty.table), ENVOY).lb.chooseHost(NO_LB_CONTEXT),
    null,
  );
  const { hosts, table } = makeHosts([1, 1], [0, 1]);
  for (const h of hosts) h.healthy = false;
  const set = buildPrioritySet(hosts, roundRobinFactory, {}, lbEnv(table), {
    ...ENVOY,
    healthyPanicThreshold: 0,
  });
  assert.equal(set.lb.chooseHost(NO_LB_CONTEXT), null);
  assert.equal(set.panic, null);
});
