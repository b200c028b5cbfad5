/**
 * LEAST_REQUEST specifics: its config, and that it reads load from the shared host table, including
 * load recorded by another worker thread.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Registry } from '../../src/registry/registry';
import { NO_LB_CONTEXT } from '../../src/upstream/lb/api';
import { leastRequestFactory, type LeastRequestConfig } from '../../src/upstream/lb/least-request';
import { countPicks, lbEnv, makeHosts, readerFor, withTimeout } from './helpers';

const ctx = { registry: new Registry() };
const DEFAULTS: LeastRequestConfig = { choiceCount: 2, activeRequestBias: 1 };

test('least_request_lb_config is read from the cluster mapping', () => {
  const { reader, issues } = readerFor(
    'least_request_lb_config: { choice_count: 4, active_request_bias: { default_value: 0.5, runtime_key: k } }',
  );
  assert.deepEqual(leastRequestFactory.parseConfig(reader, ctx), { choiceCount: 4, activeRequestBias: 0.5 });
  reader.done();
  assert.deepEqual(
    issues().map((i) => i.severity),
    ['warning'],
    'runtime_key is accepted with a warning',
  );
});

test('defaults apply without least_request_lb_config; bad values are located errors', () => {
  assert.deepEqual(leastRequestFactory.parseConfig(readerFor('name: c').reader, ctx), DEFAULTS);
  const { reader, issues } = readerFor(
    'least_request_lb_config: { choice_count: 1, active_request_bias: { default_value: -1 }, choise: 2 }',
  );
  leastRequestFactory.parseConfig(reader, ctx);
  const errors = issues().filter((i) => i.severity === 'error');
  assert.equal(errors.length, 3, JSON.stringify(errors));
  assert.ok(errors.some((e) => e.path.endsWith('choice_count')));
  assert.ok(errors.some((e) => e.path.endsWith('default_value')));
  assert.ok(errors.some((e) => /choise/.test(e.path + e.message)));
});

/** Runs a real worker thread that marks `count` requests active on `slot` of the shared table. */
async function loadFromAnotherWorker(shared: unknown, slot: number, count: number): Promise<void> {
  const hostTablePath = path.join(__dirname, '../../src/upstream/host-table.js');
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const { HostTable } = require(${JSON.stringify(hostTablePath)});
     const table = HostTable.fromShared(workerData.shared);
     for (let i = 0; i < workerData.count; i++) table.requestStarted(workerData.slot);
     parentPort.postMessage('loaded');`,
    { eval: true, workerData: { shared, slot, count } },
  );
  const message = await withTimeout(
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    5000,
  );
  assert.equal(message, 'loaded');
  await worker.terminate();
}

test('P2C prefers the host loaded less, counting load recorded by another worker thread', async () => {
  const { hosts, table } = makeHosts([1, 1]);
  await loadFromAnotherWorker(table.toShared(), hosts[0]!.slot, 10);
  assert.equal(table.activeRequests(hosts[0]!.slot), 10, 'the other thread wrote into shared memory');

  const lb = leastRequestFactory.create(hosts, DEFAULTS, lbEnv(table, 21));
  const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 10_000);
  const idleShare = (counts.get(hosts[1]!) ?? 0) / 10_000;
  // Two draws with replacement: the loaded host wins only when both draws hit it (1/4).
  assert.ok(Math.abs(idleShare - 0.75) < 0.02, `idle host got ${idleShare}`);

  for (let i = 0; i < 10; i++) table.requestFinished(hosts[0]!.slot);
  const even = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 10_000);
  assert.ok(Math.abs((even.get(hosts[1]!) ?? 0) / 10_000 - 0.5) < 0.02, 'load gone: even again');
});

test('more choices find the least-loaded host more often', () => {
  const { hosts, table } = makeHosts([1, 1, 1, 1]);
  for (let i = 0; i < 3; i++) for (let n = 0; n <= i; n++) table.requestStarted(hosts[i]!.slot);
  const share = (choiceCount: number): number => {
    const lb = leastRequestFactory.create(hosts, { choiceCount, activeRequestBias: 1 }, lbEnv(table, 4));
    return (countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 10_000).get(hosts[3]!) ?? 0) / 10_000;
  };
  // P(the idle host is among k draws of 4) = 1 - (3/4)^k.
  assert.ok(Math.abs(share(2) - (1 - 0.75 ** 2)) < 0.02);
  assert.ok(Math.abs(share(8) - (1 - 0.75 ** 8)) < 0.02);
});

test('unequal weights: weight / (active + 1)^bias', () => {
  const { hosts, table } = makeHosts([2, 1]);
  // The heavy host has 3 requests in flight: effective weights 2/4 = 0.5 against 1/1.
  for (let i = 0; i < 3; i++) table.requestStarted(hosts[0]!.slot);
  const biased = leastRequestFactory.create(hosts, DEFAULTS, lbEnv(table));
  const counts = countPicks(() => biased.chooseHost(NO_LB_CONTEXT), 9000);
  assert.ok(Math.abs((counts.get(hosts[0]!) ?? 0) / 9000 - 1 / 3) < 0.01);

  // bias 0 ignores load: plain weighted round robin.
  const unbiased = leastRequestFactory.create(hosts, { choiceCount: 2, activeRequestBias: 0 }, lbEnv(table));
  const plain = countPicks(() => unbiased.chooseHost(NO_LB_CONTEXT), 9000);
  assert.ok(Math.abs((plain.get(hosts[0]!) ?? 0) / 9000 - 2 / 3) < 0.01);
});
