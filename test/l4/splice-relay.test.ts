/**
 * The native splice relay through its JS API (src/native/splice-relay.ts), in this process: two
 * TCP connections A and B are made to a local server, and the relay joins the two server-side
 * sockets, so the test's client sockets talk to each other through it. Without the addon the relay
 * must report itself unavailable and refuse to start (tcp_proxy then relays in JS).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { test } from 'node:test';
import {
  SpliceEnd,
  SpliceRelay,
  spliceRelayAvailable,
  spliceRelayCount,
  stopReading,
} from '../../src/native';
import { addonActive, collect, openFdCount, within } from './fixtures';

interface Joined {
  /** The client ends: what one writes, the other reads. */
  a: net.Socket;
  b: net.Socket;
  relay: SpliceRelay;
  /** Resolves with how the relay ended by itself. */
  ended: Promise<SpliceEnd>;
  /** The server-side sockets the relay joins. */
  serverA: net.Socket;
  serverB: net.Socket;
  /** Resolves once all four sockets closed. */
  closed: Promise<unknown>;
}

async function withServer<T>(
  body: (port: number, accepted: () => Promise<net.Socket>) => Promise<T>,
): Promise<T> {
  const queue: net.Socket[] = [];
  const waiters: ((s: net.Socket) => void)[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    stopReading(socket); // in the same tick as the accept, as tcp_proxy does
    const waiter = waiters.shift();
    if (waiter) waiter(socket);
    else queue.push(socket);
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 });
  await once(server, 'listening');
  const accepted = (): Promise<net.Socket> =>
    queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve));
  try {
    return await body((server.address() as net.AddressInfo).port, accepted);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

async function join(port: number, accepted: () => Promise<net.Socket>, pipeBytes = 65536): Promise<Joined> {
  const a = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const serverA = await within(accepted(), 'accept A');
  const b = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const serverB = await within(accepted(), 'accept B');
  let resolveEnd!: (end: SpliceEnd) => void;
  const ended = new Promise<SpliceEnd>((resolve) => (resolveEnd = resolve));
  const relay = SpliceRelay.start(serverA, serverB, pipeBytes, { onSpliceEnd: resolveEnd });
  // Not once(): it would reject on the resets some tests provoke.
  const closed = Promise.all([a, b, serverA, serverB].map((s) => new Promise((r) => s.once('close', r))));
  return { a, b, relay, ended, serverA, serverB, closed };
}

/** What tcp_proxy does once the relay ended or was stopped: stop, then close its sockets. */
function release(j: Joined): void {
  j.relay.stop();
  j.serverA.destroy();
  j.serverB.destroy();
}

if (!addonActive()) {
  test('without the addon the splice relay is unavailable and refuses to start', async () => {
    assert.equal(spliceRelayAvailable(), false);
    assert.equal(spliceRelayCount(), 0);
    await withServer(async (port, accepted) => {
      const a = net.connect({ port, host: '127.0.0.1' });
      const serverA = await within(accepted(), 'accept');
      assert.throws(
        () => SpliceRelay.start(serverA, serverA, 65536, { onSpliceEnd: () => {} }),
        /not available/,
      );
      a.destroy();
      serverA.destroy();
    });
  });
} else {
  test('bytes flow both ways, each FIN passes on alone, and the relay ends clean', async () => {
    assert.equal(spliceRelayAvailable(), true);
    await withServer(async (port, accepted) => {
      const j = await join(port, accepted);
      const atB = collect(j.b, 'B side');
      j.a.write('from A, ');
      j.a.end('then FIN');
      // A's FIN reached B, and B can still talk to A.
      await within(once(j.b, 'end'), 'A FIN at B');
      const atA = collect(j.a, 'A side');
      j.b.end('B answers after A FIN');
      assert.equal(await within(j.ended, 'relay end'), SpliceEnd.Clean);
      j.relay.sample();
      assert.deepEqual([...j.relay.counters.subarray(0, 2)], [16, 21]);
      release(j);
      assert.equal((await atB).data.toString(), 'from A, then FIN');
      const fromB = await atA;
      assert.equal(fromB.data.toString(), 'B answers after A FIN');
      assert.equal(fromB.errorCode, null);
    });
  });

  test('a reset on one side is reported as that side; closing the other resets it', async () => {
    await withServer(async (port, accepted) => {
      for (const [side, end] of [
        ['a', SpliceEnd.ResetA],
        ['b', SpliceEnd.ResetB],
      ] as const) {
        const j = await join(port, accepted);
        const other = side === 'a' ? j.b : j.a;
        const otherOutcome = collect(other, 'other side');
        j[side].write('x');
        await within(once(other, 'data'), 'first byte');
        j[side].resetAndDestroy();
        assert.equal(await within(j.ended, 'relay end'), end);
        // tcp_proxy's reaction (tcp-proxy/splice-relay.ts): stop, then reset the other side.
        j.relay.stop();
        (side === 'a' ? j.serverB : j.serverA).resetAndDestroy();
        (side === 'a' ? j.serverA : j.serverB).destroy();
        assert.equal((await otherOutcome).errorCode, 'ECONNRESET');
      }
    });
  });

  test('backpressure: a reader that stops holds the writer at about one pipe', async () => {
    await withServer(async (port, accepted) => {
      const j = await join(port, accepted, 65536);
      j.b.pause();
      const chunk = Buffer.alloc(64 * 1024, 7);
      let written = 0;
      // Write until the writer's own buffer fills: socket buffers + one pipe, never unbounded.
      for (let i = 0; i < 2000 && j.a.write(chunk); i++) written += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
      j.relay.sample();
      const relayed = j.relay.counters[0]!;
      assert.ok(written < 64 * 1024 * 1024, `writer never blocked (${written} bytes)`);
      assert.ok(relayed < written + 64 * 1024, `relayed ${relayed} of ${written}`);
      // Reading again lets everything through.
      const total = written + chunk.length;
      const got = new Promise<void>((resolve) => {
        let n = 0;
        j.b.on('data', (c: Buffer) => {
          n += c.length;
          if (n >= total) resolve();
        });
      });
      j.b.resume();
      await within(got, 'all bytes after resume');
      j.a.destroy();
      j.b.destroy();
      await within(j.ended, 'relay end');
      release(j);
    });
  });

  test('stop() ends a running relay; 2,000 relays leave no fd behind', { timeout: 60_000 }, async () => {
    await withServer(async (port, accepted) => {
      const warm = await join(port, accepted);
      warm.a.destroy();
      warm.b.destroy();
      await within(warm.ended, 'warm-up end');
      release(warm);
      const baseline = openFdCount();
      for (let i = 0; i < 2000; i++) {
        const j = await join(port, accepted);
        if (i % 2 === 0) {
          // Stopped while running (an idle timeout): nothing is reported afterwards.
          release(j);
        } else {
          j.a.end();
          j.b.end();
          await within(j.ended, 'relay end');
          release(j);
        }
        j.a.destroy();
        j.b.destroy();
        await within(j.closed, 'sockets closed');
      }
      assert.equal(spliceRelayCount(), 0);
      assert.equal(openFdCount(), baseline);
    });
  });
}
