/** The shared host table: layout per cluster type, counters, and slot agreement between workers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DNS_SLOTS_PER_ENDPOINT,
  HostColumn,
  HostTable,
  LOGICAL_DNS_SLOTS,
} from '../../src/upstream/host-table';
import { clusterConfig, endpoint } from './helpers';

const CLUSTERS = [
  clusterConfig({ name: 'static', endpoints: [endpoint('10.0.0.1', 80), endpoint('10.0.0.2', 80)] }),
  clusterConfig({
    name: 'strict',
    type: 'STRICT_DNS',
    endpoints: [endpoint('a.example', 80), endpoint('b.example', 80)],
  }),
  clusterConfig({ name: 'logical', type: 'LOGICAL_DNS', endpoints: [endpoint('c.example', 80)] }),
];

test('slots are reserved per cluster, in config order, with room for DNS clusters', () => {
  const table = HostTable.allocate(CLUSTERS);
  assert.deepEqual(table.slotsOf('static'), { name: 'static', firstSlot: 0, capacity: 2 });
  assert.deepEqual(table.slotsOf('strict'), {
    name: 'strict',
    firstSlot: 2,
    capacity: 2 * DNS_SLOTS_PER_ENDPOINT,
  });
  assert.deepEqual(table.slotsOf('logical'), {
    name: 'logical',
    firstSlot: 2 + 2 * DNS_SLOTS_PER_ENDPOINT,
    capacity: LOGICAL_DNS_SLOTS,
  });
  assert.equal(table.slotCount, 2 + 2 * DNS_SLOTS_PER_ENDPOINT + LOGICAL_DNS_SLOTS);
  assert.equal(table.slotsOf('nope'), undefined);
});

test('counters are shared by every HostTable over the same buffer', () => {
  const primary = HostTable.allocate(CLUSTERS);
  const worker = HostTable.fromShared(structuredClone(primary.toShared()));
  worker.requestStarted(1);
  worker.requestStarted(1);
  worker.requestFinished(1);
  worker.add(1, HostColumn.ConnectFailures, 3);
  assert.equal(primary.activeRequests(1), 1);
  assert.equal(primary.get(1, HostColumn.TotalRequests), 2);
  assert.equal(primary.get(1, HostColumn.ConnectFailures), 3);
  assert.equal(primary.get(0, HostColumn.TotalRequests), 0, 'rows do not overlap');
});

test('workers claiming the same address agree on its slot; different addresses get different slots', () => {
  const a = HostTable.allocate(CLUSTERS);
  const b = HostTable.fromShared(structuredClone(a.toShared()));
  const range = a.slotsOf('strict')!;
  const keys = Array.from({ length: 2 * DNS_SLOTS_PER_ENDPOINT }, (_, i) => `10.1.0.${i}:80`);
  const slotsA = keys.map((k) => a.claimSlot(range, k));
  const slotsB = [...keys]
    .reverse()
    .map((k) => b.claimSlot(range, k))
    .reverse();
  assert.deepEqual(slotsB, slotsA);
  assert.equal(new Set(slotsA).size, keys.length, 'a full range still gives each address its own slot');
  for (const s of slotsA) assert.ok(s >= range.firstSlot && s < range.firstSlot + range.capacity);

  // The range is full: one more address shares a slot in the range rather than failing.
  const extra = a.claimSlot(range, '10.2.0.1:80');
  assert.ok(extra >= range.firstSlot && extra < range.firstSlot + range.capacity);
  assert.equal(b.claimSlot(range, '10.2.0.1:80'), extra);
});

test('a reload keeps the rows of clusters whose hosts are the same, adds rows, retires the rest', () => {
  const primary = HostTable.allocate(CLUSTERS);
  const worker = HostTable.fromShared(structuredClone(primary.toShared()));
  worker.requestStarted(0);
  const strict = primary.slotsOf('strict')!;
  worker.set(strict.firstSlot, HostColumn.OutlierEjected, 1);
  const changed = [
    CLUSTERS[0]!,
    // Same type and endpoints, another setting: same rows.
    { ...CLUSTERS[1]!, connectTimeoutMs: 1234 },
    clusterConfig({ name: 'added', endpoints: [endpoint('10.0.0.9', 80)] }),
  ];
  const next = primary.relayout(changed, CLUSTERS);
  primary.update(next);
  worker.update(structuredClone(next));
  assert.deepEqual(primary.slotsOf('static'), { name: 'static', firstSlot: 0, capacity: 2 });
  assert.deepEqual(primary.slotsOf('strict'), strict);
  assert.equal(primary.activeRequests(0), 1, 'a kept host keeps its counts');
  assert.equal(primary.isHostUsable(strict.firstSlot), false, 'and its ejection');
  const added = primary.slotsOf('added')!;
  assert.ok(added.firstSlot >= 2 + 2 * DNS_SLOTS_PER_ENDPOINT + LOGICAL_DNS_SLOTS, 'slots are never reused');
  assert.equal(primary.slotsOf('logical'), undefined);
  worker.requestStarted(added.firstSlot);
  assert.equal(primary.activeRequests(added.firstSlot), 1);

  // An endpoint list that changed gets new rows: its old ones no longer mean the same hosts.
  const moved = [clusterConfig({ name: 'static', endpoints: [endpoint('10.0.0.2', 80)] })];
  const last = primary.relayout(moved, changed);
  primary.update(last);
  worker.update(structuredClone(last));
  assert.ok(primary.slotsOf('static')!.firstSlot > added.firstSlot);
  assert.equal(primary.liveChunks, 1, 'chunks no live range uses are retired');
  // A request still finishing on a removed host writes this thread's scratch row, not a live one.
  worker.requestFinished(added.firstSlot);
  worker.requestFinished(0);
  assert.equal(primary.activeRequests(primary.slotsOf('static')!.firstSlot), 0);
});

test('a cluster that gains health checks starts its hosts failed until checked', () => {
  const plain = [clusterConfig({ name: 'c', endpoints: [endpoint('10.0.0.1', 80)] })];
  const table = HostTable.allocate(plain);
  assert.equal(table.isHostUsable(0), true);
  const checked = [{ ...plain[0]!, healthChecks: [{} as never] }];
  table.update(table.relayout(checked, plain));
  assert.equal(table.isHostUsable(table.slotsOf('c')!.firstSlot), false);
});
