/**
 * Admin `/memory` counts every thread's heap (issue 10, defect 13): Envoy's totals (`allocated`,
 * `heap_size`) are the sums over the primary and the workers, `threads` lists each one, and a
 * worker's allocation shows up in both. `server.memory_allocated` in /stats is the same sum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, catchAllYaml, startLegate, startOrigin, stat } from '../integration/harness';
import type { LegateProcess } from '../integration/harness';

const MiB = 1024 * 1024;
/** What worker 0 is made to allocate: far above the heap's own drift over a few seconds. */
const ALLOCATION = 64 * MiB;

interface Memory {
  allocated: string;
  heap_size: string;
  total_physical_bytes: string;
  threads: { thread: string; allocated: string; heap_size: string }[];
}

async function memory(legate: LegateProcess): Promise<Memory> {
  const r = await admin(legate, '/memory');
  assert.equal(r.status, 200);
  return JSON.parse(r.body.toString()) as Memory;
}

const threadAllocated = (m: Memory, thread: string): number =>
  Number(m.threads?.find((t) => t.thread === thread)?.allocated ?? NaN);

test('/memory counts the workers: an allocation by worker 0 shows up in its thread and in the totals', async () => {
  const origin = await startOrigin();
  const legate = await startLegate(catchAllYaml([origin.port]), {
    concurrency: 2,
    env: { LEGATE_TEST_HOOKS: '1' },
  });
  try {
    const before = await memory(legate);
    const allocation = await admin(legate, `/debug/worker_allocate?index=0&bytes=${ALLOCATION}`, 'POST');
    assert.equal(allocation.status, 200, 'the test hook exists');

    // Workers publish their heap every second: wait (bounded) for the allocation to appear.
    const workerGrowth = (m: Memory): number =>
      threadAllocated(m, 'worker_0') - threadAllocated(before, 'worker_0');
    let after = await memory(legate);
    const deadline = Date.now() + 5000;
    while (!(workerGrowth(after) >= ALLOCATION * 0.9) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await memory(legate);
    }
    // The total moves with the other threads' garbage collections too (by a few MiB either way).
    const grew = Number(after.allocated) - Number(before.allocated);
    assert.ok(grew >= ALLOCATION * 0.75, `allocated grew by ${(grew / MiB).toFixed(1)} MiB`);
    assert.ok(Number(after.heap_size) >= Number(after.allocated), 'heap_size covers allocated');

    // Without the addon (LEGATE_NATIVE=0) there is one worker whatever --concurrency says.
    const workers = await stat(legate, 'server.concurrency');
    assert.deepEqual(
      after.threads.map((t) => t.thread),
      ['main', ...Array.from({ length: workers }, (_, i) => `worker_${i}`)],
    );
    for (const t of after.threads) assert.ok(Number(t.allocated) > 0, `${t.thread} reports its heap`);
    const workerGrew = workerGrowth(after);
    assert.ok(workerGrew >= ALLOCATION * 0.9, `worker_0 grew by ${(workerGrew / MiB).toFixed(1)} MiB`);
    const sum = after.threads.reduce((s, t) => s + Number(t.allocated), 0);
    assert.equal(Number(after.allocated), sum, 'allocated is the sum over the threads');
    assert.ok(Number(after.total_physical_bytes) >= sum, 'the RSS holds every heap');

    // The same sum in Envoy's gauge (the primary publishes its own row when the stats are read).
    assert.ok((await stat(legate, 'server.memory_allocated')) >= ALLOCATION * 0.9);
  } finally {
    await legate.stop();
    await origin.close();
  }
});
