import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { StatsLayout, StatsStore, type StatsLayoutData } from '../../src/stats/store';
import { HistogramIntervals } from '../../src/stats/histogram-intervals';

function layout(): StatsLayoutData {
  const l = new StatsLayout();
  l.declare('c', 'counter');
  l.declare('g', 'gauge');
  l.declareAll('code_', ['200', '201', '202'], 'counter', true);
  l.declareHistograms('x.', ['h1', 'h2']);
  return l.allocate(3);
}

test('counters, gauges and histograms are summed over every thread row', () => {
  const data = layout();
  const [primary, w0, w1] = [0, 1, 2].map((r) => new StatsStore(data, r));
  w0!.counter('c').add(5);
  w1!.counter('c').inc();
  w0!.gauge('g').inc();
  w1!.gauge('g').set(7);
  w0!.histogram('x.h2').record(3);
  w1!.histogram('x.h2').record(4);
  assert.equal(primary!.read(0), 6);
  assert.equal(primary!.read(1), 8);
  assert.equal(primary!.readHistogram(1).count, 2);
  assert.equal(primary!.readHistogram(1).sumMs, 7);
  assert.equal(primary!.readHistogram(0).count, 0);
  primary!.resetCounters();
  assert.equal(primary!.read(0), 0);
  assert.equal(primary!.read(1), 8, 'gauges survive /reset_counters');
});

test('a counter group increments by position and must be declared contiguously', () => {
  const data = layout();
  const s = new StatsStore(data, 1);
  const g = s.counterGroup(['code_200', 'code_201', 'code_202']);
  g.inc(2);
  g.inc(2);
  assert.equal(s.read(data.names.indexOf('code_202')), 2);
  assert.deepEqual(data.hiddenUntilUsed.map((h, i) => (h ? data.names[i] : null)).filter(Boolean), [
    'code_200',
    'code_201',
    'code_202',
  ]);
  assert.throws(() => s.counterGroup(['code_200', 'code_202']), /declared together/);
  assert.throws(() => s.histogram('nope'), /not declared/);
});

test('histogram intervals hold what the last completed interval recorded', () => {
  const data = layout();
  const s = new StatsStore(data, 1);
  const h = s.histogram('x.h1');
  const intervals = new HistogramIntervals(new StatsStore(data, 0), 0);
  h.record(1);
  assert.equal(intervals.interval(0).count, 0, 'no interval completed yet');
  intervals.flush();
  assert.equal(intervals.interval(0).count, 1);
  h.record(2);
  h.record(2);
  intervals.flush();
  assert.equal(intervals.interval(0).count, 2);
  intervals.flush();
  assert.equal(intervals.interval(0).count, 0);
});

test('two worker threads recording at once: the merged histogram and counter lose nothing', async () => {
  const data = layout();
  const PER_THREAD = 50_000;
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { StatsStore } = require(${JSON.stringify(require.resolve('../../src/stats/store'))});
    const s = new StatsStore(workerData.data, workerData.row);
    const c = s.counter('c');
    const h = s.histogram('x.h1');
    for (let i = 0; i < ${PER_THREAD}; i++) { c.inc(); h.record(i % 100); }
    parentPort.postMessage('done');`;
  await Promise.all(
    [1, 2].map(
      (row) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { data, row } });
          w.once('message', () => void w.terminate().then(() => resolve()));
          w.once('error', reject);
        }),
    ),
  );
  const primary = new StatsStore(data, 0);
  assert.equal(primary.read(0), 2 * PER_THREAD);
  const h = primary.readHistogram(0);
  assert.equal(h.count, 2 * PER_THREAD);
  assert.equal(h.sumMs, 2 * (PER_THREAD / 100) * 4950);
});

test('unboundNames lists the declared stats and histograms no thread has bound', () => {
  const data = layout();
  const [primary, w0, w1] = [0, 1, 2].map((r) => new StatsStore(data, r));
  assert.deepEqual(primary!.unboundNames(), ['c', 'g', 'code_200', 'code_201', 'code_202', 'x.h1', 'x.h2']);
  w0!.counter('c');
  w1!.counterGroup(['code_200', 'code_201', 'code_202']);
  w1!.histogram('x.h2');
  assert.deepEqual(primary!.unboundNames(), ['g', 'x.h1']);
  primary!.gauge('g');
  primary!.histogram('x.h1');
  assert.deepEqual(w0!.unboundNames(), []);
});
