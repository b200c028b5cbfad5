/**
 * Stats microbenchmarks: `node .build/<dir>/perf/stats.js`.
 *
 * The question (issue 4): how should histograms be kept so that `/stats` reflects every worker?
 *  A. log-linear buckets in the stats SharedArrayBuffer, one row per thread (src/stats/histogram.ts):
 *     record = bucket index + 3 Float64 increments; the admin sums the rows on read.
 *  B. one hdr-histogram-js per worker (pure JS, and wasm): record = `recordValue`; to read, every
 *     worker must encode its histogram (`encodeIntoCompressedBase64`), post it, and the admin
 *     decodes and adds them.
 * Measured: record cost per value (the request path pays this once or twice per request), and the
 * read cost of one histogram merged over 3 threads (the admin pays it per histogram per /stats).
 * Also: a counter increment in the shared row, for scale.
 *
 * Result on the development machine (2 vCPU EPYC VM, Node 20.20, other work running; two runs):
 *   counter inc (shared row)                        3.3 ns
 *   A: log-linear buckets (shared row)              9.3–9.5 ns per value
 *   B: hdr-histogram-js, JS                         127 ns per value
 *   B: hdr-histogram-js, wasm                       17–18 ns per value
 *   bench generator's BucketRecorder (HDR index with clz32, 3 digits)   6.2 ns per value
 *   A: read (sum 3 rows) + P50/P99                  13 µs per histogram
 *   B: encode ×3, decode + add, P50/P99 (JS)        178–181 µs per histogram, before any messaging
 * A is the cheapest on both sides and needs no messaging, so Legate uses A. Its cost: a bucket is
 * up to 3.1 % wide (HdrHistogram would be exact to 2 digits); Envoy's circllhist is coarser.
 * The load generator needs exact HdrHistograms but not hdr-histogram-js's 127 ns per value (twice
 * per response): src/bench/bucket-recorder.ts computes the same index in 6 ns.
 */
import { bench, do_not_optimize, group, run } from 'mitata';
import * as hdr from 'hdr-histogram-js';
import { StatsLayout, StatsStore } from '../src/stats/store';
import { createLatencyRecorder } from '../src/bench/histogram';

const THREADS = 3;
const VALUES = Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 5000) / 10); // 0–500 ms

function sharedStore(): StatsStore[] {
  const layout = new StatsLayout();
  layout.declare('c', 'counter');
  layout.declareHistograms('', ['h']);
  const data = layout.allocate(THREADS);
  return Array.from({ length: THREADS }, (_, r) => new StatsStore(data, r));
}

function hdrHistogram(useWebAssembly: boolean): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    useWebAssembly,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 2,
  });
}

async function main(): Promise<void> {
  await hdr.initWebAssembly();
  const stores = sharedStore();
  const counter = stores[1]!.counter('c');
  const shared = stores.map((s) => s.histogram('h'));
  const hdrJs = Array.from({ length: THREADS }, () => hdrHistogram(false));
  const hdrWasm = Array.from({ length: THREADS }, () => hdrHistogram(true));
  const generatorRecorder = createLatencyRecorder();
  for (let t = 0; t < THREADS; t++) {
    for (const v of VALUES) {
      shared[t]!.record(v);
      hdrJs[t]!.recordValue(Math.round(v * 1000));
      hdrWasm[t]!.recordValue(Math.round(v * 1000));
    }
  }

  let i = 0;
  group('record one value', () => {
    bench('counter inc (shared row)', () => counter.inc());
    bench('A: log-linear buckets (shared row)', () => shared[1]!.record(VALUES[i++ & 1023]!));
    bench('B: hdr-histogram-js, JS', () => hdrJs[1]!.recordValue(Math.round(VALUES[i++ & 1023]! * 1000)));
    bench('B: hdr-histogram-js, wasm', () => hdrWasm[1]!.recordValue(Math.round(VALUES[i++ & 1023]! * 1000)));
    // What `legate bench` threads record into (3 digits): HdrHistogram's index in integer math.
    bench('bench generator: BucketRecorder (HDR index, clz32)', () =>
      generatorRecorder.record(Math.round(VALUES[i++ & 1023]! * 1000)),
    );
  });
  group(`read one histogram merged over ${THREADS} threads`, () => {
    bench('A: sum rows + P50/P99', () => {
      const snap = stores[0]!.readHistogram(0);
      do_not_optimize(snap.quantile(0.5) + snap.quantile(0.99));
    });
    bench('B: encode each, decode + add, P50/P99 (JS)', () => {
      const merged = hdrHistogram(false);
      for (const h of hdrJs) merged.add(hdr.decodeFromCompressedBase64(hdr.encodeIntoCompressedBase64(h)));
      do_not_optimize(merged.getValueAtPercentile(50) + merged.getValueAtPercentile(99));
    });
  });

  const { benchmarks } = await run();
  console.log('\nper operation');
  for (const trial of benchmarks) {
    for (const r of trial.runs) {
      if (r.stats !== undefined) console.log(`  ${r.name.padEnd(48)} ${formatNs(r.stats.avg).padStart(10)}`);
    }
  }
  for (const h of hdrWasm) h.destroy();
}

function formatNs(ns: number): string {
  return ns < 1000 ? `${ns.toFixed(1)} ns` : `${(ns / 1000).toFixed(2)} µs`;
}

void main();
