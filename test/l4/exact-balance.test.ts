/**
 * exact_balance: the shared table's protocol in this process, and end to end: 100 long-lived
 * connections through a 2-worker proxy land 50/50 (±1). Without the addon there is nothing to hand
 * over: the proxy says so and serves the listener from its one worker.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { ListenerConfig } from '../../src/config/bootstrap';
import { ExactBalance } from '../../src/listener/exact-balance';
import { loadNative } from '../../src/native';
import { stat, startLegate } from '../integration/harness';
import { addonActive, collect, connect, startEcho, tcpProxyYaml } from './fixtures';

function listener(name: string, balance: 'exact' | 'kernel'): ListenerConfig {
  return { name, connectionBalance: balance } as ListenerConfig;
}

test('picks the least loaded worker, counting connections still in flight', () => {
  const balance = ExactBalance.allocate([listener('a', 'exact'), listener('k', 'kernel')], 3)!;
  assert.equal(balance.balances('a'), true);
  assert.equal(balance.balances('k'), false);
  const all = (): boolean => true;
  const picks: number[] = [];
  for (let i = 0; i < 6; i++) {
    const w = balance.leastLoaded('a', all);
    picks.push(w);
    assert.ok(balance.post(w, 'a', 100 + i) >= 0);
  }
  assert.deepEqual(picks, [0, 1, 2, 0, 1, 2]);
  // Worker 1 takes its first connection and closes it: it is now the least loaded.
  const handed = balance.take(1, 0)!;
  assert.deepEqual(handed, { fd: 101, listener: 'a' });
  balance.closed('a', 1);
  assert.equal(balance.leastLoaded('a', all), 1);
  assert.equal(
    balance.leastLoaded('a', (w) => w !== 1),
    0,
  );
  assert.equal(ExactBalance.allocate([listener('k', 'kernel')], 2), null);
});

test('a dead worker’s untaken fds are closed by the primary, and only those', () => {
  const native = loadNative();
  if (native === null) {
    // Without the addon Legate never hands fds over; the table still reclaims what it was given.
    const balance = ExactBalance.allocate([listener('a', 'exact')], 2)!;
    balance.post(0, 'a', 7);
    const closed: number[] = [];
    assert.equal(
      balance.reclaimWorker(0, (fd) => closed.push(fd)),
      1,
    );
    assert.deepEqual(closed, [7]);
    return;
  }
  const balance = ExactBalance.allocate([listener('a', 'exact')], 2)!;
  const probe = native.listenReusePort('127.0.0.1', 0, 1);
  const fds = [native.dup(probe), native.dup(probe), native.dup(probe)];
  const slots = fds.map((fd) => balance.post(0, 'a', fd));
  const taken = balance.take(0, slots[1]!)!; // the worker adopted this one before dying
  assert.equal(
    balance.reclaimWorker(0, (fd) => native.close(fd)),
    2,
  );
  assert.equal(existsSync(`/proc/self/fd/${fds[0]}`), false);
  assert.equal(existsSync(`/proc/self/fd/${fds[2]}`), false);
  assert.equal(existsSync(`/proc/self/fd/${taken.fd}`), true, 'an adopted fd is not the primary’s to close');
  assert.equal(balance.take(0, slots[0]!), null, 'a reclaimed slot cannot be taken any more');
  assert.equal(balance.active('a', 0), 0);
  native.close(taken.fd);
  native.close(probe);
});

test('100 long-lived connections spread across 2 workers within ±1', { timeout: 60_000 }, async () => {
  const echo = await startEcho();
  const proxy = await startLegate(
    tcpProxyYaml({
      upstreamPorts: [echo.port],
      listenerExtra: 'connection_balance_config: { exact_balance: {} }',
    }),
  );
  const sockets = [];
  try {
    const port = proxy.ports.get('tcp')!;
    if (!addonActive()) assert.match(proxy.output(), /exact_balance needs the native addon/);
    for (let i = 0; i < 100; i++) sockets.push(await connect(port));
    // Each one proxies (the handoff carried a live connection), and stays open.
    await Promise.all(
      sockets.map(
        (s, i) =>
          new Promise<void>((resolve, reject) => {
            s.once('data', (d: Buffer) =>
              d.toString() === `hi ${i}` ? resolve() : reject(new Error(`connection ${i}: ${d.toString()}`)),
            );
            s.write(`hi ${i}`);
          }),
      ),
    );
    const gauge = (w: number): Promise<number> =>
      stat(proxy, `listener.127.0.0.1_0.worker_${w}.downstream_cx_active`);
    if (addonActive()) {
      const perWorker = [await gauge(0), await gauge(1)];
      assert.equal(perWorker[0]! + perWorker[1]!, 100);
      for (const n of perWorker) assert.ok(Math.abs(n - 50) <= 1, `spread ${perWorker.join('/')}`);
    } else {
      assert.equal(await gauge(0), 100); // the one worker there is
    }
    const outcomes = sockets.map((s) => collect(s));
    for (const s of sockets) s.end();
    await Promise.all(outcomes);
  } finally {
    for (const s of sockets) s.destroy();
    await proxy.stop();
    await echo.close();
  }
});
