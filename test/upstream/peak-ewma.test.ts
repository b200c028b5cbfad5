/**
 * PEAK_EWMA: the shared estimate (peak, decay on read, samples from another worker thread), the
 * balancer steering away from a slow or loaded host with an injected clock, and its config through
 * both `lb_policy: PEAK_EWMA` and Envoy's `load_balancing_policy` typed_config.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { HostTable } from '../../src/upstream/host-table';
import { NO_LB_CONTEXT, type LbEnv } from '../../src/upstream/lb/api';
import { peakEwmaFactory, type PeakEwmaConfig } from '../../src/upstream/lb/peak-ewma';
import { loadOk, minimalConfig } from '../config/helpers';
import { countPicks, makeHosts, seededRandom, withTimeout } from './helpers';

const CONFIG: PeakEwmaConfig = { decayTimeMs: 10_000, defaultRttMs: 10 };

/** An LbEnv whose clock the test sets. */
function manualEnv(table: HostTable, seed = 1): LbEnv & { now: number } {
  const env = { hostTable: table, random: seededRandom(seed), now: 1_000_000, nowMs: () => env.now };
  return env;
}

test('the estimate takes a peak at once, decays toward it slowly, and toward 0 when read idle', () => {
  const { hosts, table } = makeHosts([1]);
  const slot = hosts[0]!.slot;
  table.recordRtt(slot, 50, 1000);
  assert.equal(table.rttEstimateMs(slot, 1000), -1, 'untracked hosts are not recorded');

  table.trackRtt(slot, 10_000);
  table.recordRtt(slot, 5, 1000);
  assert.equal(table.rttEstimateMs(slot, 1000), 5, 'the first sample is the estimate');
  table.recordRtt(slot, 50, 2000);
  assert.equal(table.rttEstimateMs(slot, 2000), 50, 'a higher sample replaces the estimate (peak)');
  // A lower sample 1 s later: w = exp(-1000/10000); 50·w + 5·(1 − w).
  table.recordRtt(slot, 5, 3000);
  const w = Math.exp(-0.1);
  assert.ok(Math.abs(table.rttEstimateMs(slot, 3000) - (50 * w + 5 * (1 - w))) < 0.01);
  // Read τ later without samples: decayed by e.
  const at = table.rttEstimateMs(slot, 3000);
  assert.ok(Math.abs(table.rttEstimateMs(slot, 13_000) - at / Math.E) < 0.01);
});

test('steers away from a slow host, and tries it again once its estimate has decayed', () => {
  const { hosts, table } = makeHosts([1, 1, 1]);
  const env = manualEnv(table, 3);
  const lb = peakEwmaFactory.create(hosts, CONFIG, env);
  const [fast1, fast2, slow] = hosts as [(typeof hosts)[0], (typeof hosts)[0], (typeof hosts)[0]];
  table.recordRtt(fast1.slot, 1, env.now);
  table.recordRtt(fast2.slot, 1.2, env.now);
  table.recordRtt(slow.slot, 50, env.now);

  // Distinct P2C: the slow host is in 2 of 3 pairs and loses both.
  const avoided = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 3000);
  assert.equal(avoided.get(slow), undefined, 'the slow host gets nothing');
  assert.ok((avoided.get(fast1) ?? 0) > 1500, 'the fastest wins its pairs');

  // 60 s on (6 τ) with the fast hosts still answering in ~1 ms, the slow one silent: its estimate
  // (50·e^-6 ≈ 0.12 ms) is now below theirs, so it gets probed again.
  env.now += 60_000;
  table.recordRtt(fast1.slot, 1, env.now);
  table.recordRtt(fast2.slot, 1, env.now);
  const probed = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 300);
  assert.ok((probed.get(slow) ?? 0) > 100, 'the decayed slow host is tried again');
});

test('cost multiplies the estimate by active requests + 1', () => {
  const { hosts, table } = makeHosts([1, 1]);
  const env = manualEnv(table);
  const lb = peakEwmaFactory.create(hosts, CONFIG, env);
  // Host 0 is 3× faster but has 4 requests in flight: 1 × 5 > 3 × 1.
  table.recordRtt(hosts[0]!.slot, 1, env.now);
  table.recordRtt(hosts[1]!.slot, 3, env.now);
  for (let i = 0; i < 4; i++) table.requestStarted(hosts[0]!.slot);
  assert.equal(countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100).get(hosts[1]!), 100);
  for (let i = 0; i < 4; i++) table.requestFinished(hosts[0]!.slot);
  assert.equal(countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100).get(hosts[0]!), 100);
});

test('hosts without a sample cost default_rtt', () => {
  const { hosts, table } = makeHosts([1, 1]);
  const env = manualEnv(table);
  const lb = peakEwmaFactory.create(hosts, { decayTimeMs: 10_000, defaultRttMs: 10 }, env);
  table.recordRtt(hosts[0]!.slot, 20, env.now);
  assert.equal(countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100).get(hosts[1]!), 100);
  table.recordRtt(hosts[0]!.slot, 1, env.now + 100_000);
  env.now += 100_000;
  assert.equal(countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100).get(hosts[0]!), 100);
});

/** A real worker thread records `rttMs` samples for `slot` and marks `active` requests on it. */
async function fromAnotherWorker(
  shared: unknown,
  slot: number,
  rttMs: number,
  nowMs: number,
  active: number,
) {
  const hostTablePath = path.join(__dirname, '../../src/upstream/host-table.js');
  const worker = new Worker(
    `const { workerData: d, parentPort } = require('node:worker_threads');
     const { HostTable } = require(${JSON.stringify(hostTablePath)});
     const table = HostTable.fromShared(d.shared);
     table.recordRtt(d.slot, d.rttMs, d.nowMs);
     for (let i = 0; i < d.active; i++) table.requestStarted(d.slot);
     parentPort.postMessage('done');`,
    { eval: true, workerData: { shared, slot, rttMs, nowMs, active } },
  );
  const message = await withTimeout(
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    5000,
  );
  assert.equal(message, 'done');
  await worker.terminate();
}

test('latency and load recorded by another worker thread steer this worker', async () => {
  const { hosts, table } = makeHosts([1, 1]);
  const env = manualEnv(table, 9);
  const lb = peakEwmaFactory.create(hosts, CONFIG, env);
  table.recordRtt(hosts[1]!.slot, 5, env.now);

  await fromAnotherWorker(table.toShared(), hosts[0]!.slot, 40, env.now, 0);
  assert.equal(
    countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100).get(hosts[1]!),
    100,
    'slow per the other thread',
  );

  // Host 0 fast again (per this thread), host 1 loaded by the other: 1 × 1 < 5 × (3 + 1).
  env.now += 100_000;
  table.recordRtt(hosts[0]!.slot, 1, env.now);
  table.recordRtt(hosts[1]!.slot, 5, env.now);
  await fromAnotherWorker(table.toShared(), hosts[1]!.slot, 5, env.now, 3);
  assert.equal(
    countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100).get(hosts[0]!),
    100,
    'loaded per the other thread',
  );
});

test('lb_policy: PEAK_EWMA and load_balancing_policy typed_config both configure it', () => {
  const short = loadOk(minimalConfig({ cluster: 'lb_policy: PEAK_EWMA' }));
  assert.equal(short.clusters[0]!.lbPolicy, 'PEAK_EWMA');
  assert.deepEqual(short.clusters[0]!.lbConfig, { decayTimeMs: 10_000, defaultRttMs: 10 });

  const typed = loadOk(
    minimalConfig({
      cluster: `load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.peak_ewma
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.peak_ewma.v3alpha.PeakEwma
        decay_time: 5s
        default_rtt: 0.05s`,
    }),
  );
  assert.equal(typed.clusters[0]!.lbPolicy, 'PEAK_EWMA');
  assert.deepEqual(typed.clusters[0]!.lbConfig, { decayTimeMs: 5000, defaultRttMs: 50 });
});

test('maglev and ring_hash settings are read inside load_balancing_policy too', () => {
  const b = loadOk(
    minimalConfig({
      cluster: `load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.maglev
      typed_config: { "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev, table_size: 251 }`,
    }),
  );
  assert.deepEqual([b.clusters[0]!.lbPolicy, b.clusters[0]!.lbConfig], ['MAGLEV', { tableSize: 251 }]);
});
