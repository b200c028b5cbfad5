/**
 * How to keep a peak-EWMA latency estimate per host in shared memory, written by every worker:
 * `node .build/<dir>/perf/ewma.js`. Atomics has no Float64, so the four candidates are:
 *
 * - `cas-int32`: estimate in integer µs and its time stamp in ms, two Int32 cells; an update is a
 *   compare-and-swap of the estimate (retried on conflict), then a store of the stamp. A reader may
 *   pair a new estimate with the previous stamp for a moment (it then decays a little too much).
 * - `cas-bigint64`: the same two numbers packed into one BigInt64 cell, so one CAS updates both;
 *   every access converts through BigInt (V8 allocates them).
 * - `seqlock`: Float64 estimate and stamp guarded by an Int32 sequence number; writers take the
 *   lock with a CAS (odd = writing), readers retry while it is odd or changed.
 * - `single-writer`: one Float64 row per (worker, host), written only by its worker; a read merges
 *   the rows of all workers (the highest decayed estimate, peak-sensitive).
 *
 * Measured: record and read cost on one thread (mitata), then two worker threads recording into the
 * same host as fast as they can for 300 ms while the main thread reads (updates per second and lost
 * or retried updates under real contention). The chosen layout is `cas-int32`, in host-table.ts:
 * see the numbers printed here and the note at the top of that file.
 */
import { bench, do_not_optimize, group, run } from 'mitata';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const DECAY_MS = 10_000;
const WORKERS = 8;

interface EwmaStore {
  record(worker: number, slot: number, rttMs: number, nowMs: number): void;
  read(slot: number, nowMs: number): number;
  /** CAS or lock retries so far (contention). */
  retries: number;
}

type Variant = 'cas-int32' | 'cas-bigint64' | 'seqlock' | 'single-writer';
const VARIANTS: Variant[] = ['cas-int32', 'cas-bigint64', 'seqlock', 'single-writer'];

function peak(old: number, oldStamp: number, rtt: number, now: number): number {
  if (rtt >= old) return rtt;
  const w = Math.exp(-(now - oldStamp) / DECAY_MS);
  return old * w + rtt * (1 - w);
}

class CasInt32 implements EwmaStore {
  retries = 0;
  private readonly cells: Int32Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }
  record(_w: number, slot: number, rttMs: number, nowMs: number): void {
    const i = slot * 2;
    const rttUs = Math.max(1, Math.round(rttMs * 1000));
    const stamp = nowMs | 0;
    for (;;) {
      const old = Atomics.load(this.cells, i);
      const next =
        old === 0 ? rttUs : Math.max(1, Math.round(peak(old, Atomics.load(this.cells, i + 1), rttUs, stamp)));
      if (Atomics.compareExchange(this.cells, i, old, next) === old) break;
      this.retries++;
    }
    Atomics.store(this.cells, i + 1, stamp);
  }
  read(slot: number, nowMs: number): number {
    const est = this.cells[slot * 2]!;
    const elapsed = ((nowMs | 0) - this.cells[slot * 2 + 1]!) | 0;
    return (est * Math.exp(-elapsed / DECAY_MS)) / 1000;
  }
}

class CasBigInt64 implements EwmaStore {
  retries = 0;
  private readonly cells: BigInt64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new BigInt64Array(buffer);
  }
  record(_w: number, slot: number, rttMs: number, nowMs: number): void {
    const rttUs = Math.max(1, Math.round(rttMs * 1000));
    const stamp = nowMs | 0;
    for (;;) {
      const old = Atomics.load(this.cells, slot);
      const oldEst = Number(old & 0xffffffffn);
      const oldStamp = Number(old >> 32n);
      const est = oldEst === 0 ? rttUs : Math.max(1, Math.round(peak(oldEst, oldStamp, rttUs, stamp)));
      const next = (BigInt(stamp) << 32n) | BigInt(est);
      if (Atomics.compareExchange(this.cells, slot, old, next) === old) return;
      this.retries++;
    }
  }
  read(slot: number, nowMs: number): number {
    const word = Atomics.load(this.cells, slot);
    const elapsed = ((nowMs | 0) - Number(word >> 32n)) | 0;
    return (Number(word & 0xffffffffn) * Math.exp(-elapsed / DECAY_MS)) / 1000;
  }
}

/** Row per slot: [seq (Int32, padded to 8 bytes), estimate (Float64), stamp (Float64)]. */
class SeqLock implements EwmaStore {
  retries = 0;
  private readonly seq: Int32Array;
  private readonly f: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.seq = new Int32Array(buffer);
    this.f = new Float64Array(buffer);
  }
  record(_w: number, slot: number, rttMs: number, nowMs: number): void {
    const s = slot * 6;
    for (;;) {
      const seq = Atomics.load(this.seq, s);
      if ((seq & 1) === 0 && Atomics.compareExchange(this.seq, s, seq, seq + 1) === seq) break;
      this.retries++;
    }
    const old = this.f[slot * 3 + 1]!;
    this.f[slot * 3 + 1] = old === 0 ? rttMs : peak(old, this.f[slot * 3 + 2]!, rttMs, nowMs);
    this.f[slot * 3 + 2] = nowMs;
    Atomics.add(this.seq, s, 1);
  }
  read(slot: number, nowMs: number): number {
    const s = slot * 6;
    for (;;) {
      const before = Atomics.load(this.seq, s);
      const est = this.f[slot * 3 + 1]!;
      const stamp = this.f[slot * 3 + 2]!;
      if ((before & 1) === 0 && Atomics.load(this.seq, s) === before)
        return est * Math.exp(-(nowMs - stamp) / DECAY_MS);
      this.retries++;
    }
  }
}

/** Float64 rows [estimate, stamp] per (worker, slot), SLOTS slots per worker. */
const SLOTS = 4;
class SingleWriter implements EwmaStore {
  retries = 0;
  private readonly f: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.f = new Float64Array(buffer);
  }
  record(worker: number, slot: number, rttMs: number, nowMs: number): void {
    const i = (worker * SLOTS + slot) * 2;
    const old = this.f[i]!;
    this.f[i] = old === 0 ? rttMs : peak(old, this.f[i + 1]!, rttMs, nowMs);
    this.f[i + 1] = nowMs;
  }
  read(slot: number, nowMs: number): number {
    let best = 0;
    for (let w = 0; w < WORKERS; w++) {
      const i = (w * SLOTS + slot) * 2;
      const est = this.f[i]! * Math.exp(-(nowMs - this.f[i + 1]!) / DECAY_MS);
      if (est > best) best = est;
    }
    return best;
  }
}

function bytesFor(v: Variant): number {
  return v === 'single-writer' ? WORKERS * SLOTS * 16 : SLOTS * 24;
}

function open(v: Variant, buffer: SharedArrayBuffer): EwmaStore {
  switch (v) {
    case 'cas-int32':
      return new CasInt32(buffer);
    case 'cas-bigint64':
      return new CasBigInt64(buffer);
    case 'seqlock':
      return new SeqLock(buffer);
    case 'single-writer':
      return new SingleWriter(buffer);
  }
}

interface Job {
  variant: Variant;
  buffer: SharedArrayBuffer;
  worker: number;
  ms: number;
}

/** In a worker thread: record into slot 0 as fast as possible for `ms`, report count and retries. */
function recordLoop(job: Job): void {
  const store = open(job.variant, job.buffer);
  const end = performance.now() + job.ms;
  let n = 0;
  let now = performance.now();
  while (now < end) {
    for (let i = 0; i < 1000; i++, n++) store.record(job.worker, 0, 1 + (n % 50) / 10, now + i / 1000);
    now = performance.now();
  }
  parentPort!.postMessage({ updates: n, retries: store.retries });
}

async function contended(variant: Variant): Promise<string> {
  const buffer = new SharedArrayBuffer(bytesFor(variant));
  const reader = open(variant, buffer);
  const workers = [0, 1].map(
    (worker) => new Worker(__filename, { workerData: { variant, buffer, worker, ms: 300 } satisfies Job }),
  );
  const results = workers.map(
    (w) =>
      new Promise<{ updates: number; retries: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  // Read concurrently (the main thread is the "LB"), yielding so messages can arrive.
  let reads = 0;
  let bad = 0;
  const stop = Date.now() + 1000;
  let done = false;
  void Promise.all(results).then(() => (done = true));
  while (!done && Date.now() < stop) {
    for (let i = 0; i < 10_000; i++, reads++) {
      const v = reader.read(0, performance.now());
      if (!(v >= 0 && v < 10)) bad++;
    }
    await new Promise((r) => setImmediate(r));
  }
  const r = await Promise.all(results);
  for (const w of workers) await w.terminate();
  const updates = r[0]!.updates + r[1]!.updates;
  const retries = r[0]!.retries + r[1]!.retries;
  return `  ${variant.padEnd(14)} ${((updates / 0.3) | 0).toLocaleString('en-US').padStart(12)} updates/s (2 threads)  ${((100 * retries) / updates).toFixed(2).padStart(6)} % retried  ${reads.toLocaleString('en-US').padStart(11)} reads, ${bad} out of range (reader retries ${reader.retries})`;
}

async function main(): Promise<void> {
  for (const variant of VARIANTS) {
    group(variant, () => {
      const store = open(variant, new SharedArrayBuffer(bytesFor(variant)));
      let t = 1;
      bench(`${variant} record`, () => store.record(0, 1, 0.5 + (t & 7) / 8, (t += 0.01)));
      bench(`${variant} read`, () => do_not_optimize(store.read(1, t)));
    });
  }
  group('clocks', () => {
    bench('process.hrtime.bigint()', () => do_not_optimize(process.hrtime.bigint()));
    bench('performance.now()', () => do_not_optimize(performance.now()));
  });
  await run();
  console.log('\ncontended: 2 worker threads record into one host for 300 ms, main thread reads');
  for (const variant of VARIANTS) console.log(await contended(variant));
}

if (isMainThread) void main();
else recordLoop(workerData as Job);
