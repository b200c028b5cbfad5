import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { DORMANT_BLOCKS, StatsLayout, StatsStore, type StatsLayoutData } from '../../src/stats/store';
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
  assert.equal(s.value('code_202'), 2);
  assert.deepEqual(s.hiddenUntilUsed.map((h, i) => (h ? s.names[i] : null)).filter(Boolean), [
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

test('a reload keeps the blocks whose names it declares, adds one for new names, drops the rest', () => {
  const first = new StatsLayout();
  first.declareAll('cluster.a.', ['rq', 'cx'], 'counter');
  first.declareHistograms('cluster.a.', ['t']);
  const data1 = first.allocate(2);
  const worker = new StatsStore(data1, 1);
  const oldCounter = worker.counter('cluster.a.rq');
  oldCounter.add(3);

  // Reload 1: cluster a keeps 'rq' (drops 'cx'), cluster b is new.
  const second = new StatsLayout();
  second.declare('cluster.a.rq', 'counter');
  second.declareHistograms('cluster.a.', ['t']);
  second.declareAll('cluster.b.', ['rq'], 'counter');
  const data2 = second.relayout(data1);
  assert.equal(data2.blocks.length, 2);
  assert.deepEqual(data2.retired, ['cluster.a.cx']);
  const primary = new StatsStore(data2, 0);
  worker.update(data2);
  worker.counter('cluster.a.rq').inc();
  worker.counter('cluster.b.rq').add(5);
  assert.equal(primary.value('cluster.a.rq'), 4, 'a kept stat keeps counting in its slot');
  assert.equal(primary.value('cluster.b.rq'), 5);
  assert.deepEqual(primary.names, ['cluster.a.rq', 'cluster.b.rq'], 'a retired name is not listed');

  // Reload 2: only cluster b: the first block goes dormant; a stat bound from it writes only itself.
  const third = new StatsLayout();
  third.declareAll('cluster.b.', ['rq'], 'counter');
  const data3 = third.relayout(data2);
  assert.deepEqual(
    data3.blocks.map((b) => b.id),
    [1],
  );
  assert.deepEqual(
    data3.dormant.map((b) => b.id),
    [0],
  );
  primary.update(data3);
  worker.update(data3);
  oldCounter.add(100);
  assert.equal(primary.value('cluster.b.rq'), 5, 'an old binding never writes a live stat');
  assert.equal(primary.value('cluster.a.rq'), undefined);
  assert.deepEqual(primary.names, ['cluster.b.rq']);
  assert.throws(() => worker.counter('cluster.a.rq'), /not declared/);

  // Reload 3: a comes back: its dormant block returns (nothing allocated), the stat continues.
  const fourth = new StatsLayout();
  fourth.declareAll('cluster.b.', ['rq'], 'counter');
  fourth.declareAll('cluster.a.', ['rq'], 'counter');
  const data4 = fourth.relayout(data3);
  assert.deepEqual(
    data4.blocks.map((b) => b.id),
    [1, 0],
  );
  assert.equal(data4.dormant.length, 0);
  primary.update(data4);
  assert.equal(primary.value('cluster.a.rq'), 104);

  // Names that never come back leave the dormant list after DORMANT_BLOCKS more drops.
  let data = data4;
  for (let i = 0; i <= DORMANT_BLOCKS; i++) {
    const l = new StatsLayout();
    l.declare(`cluster.n${i}.rq`, 'counter');
    data = l.relayout(data);
  }
  assert.equal(data.dormant.length, DORMANT_BLOCKS);
  assert.ok(!data.dormant.some((b) => b.id === 0), 'the oldest dormant block is freed');
});
