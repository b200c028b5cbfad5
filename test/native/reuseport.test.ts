import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { openSharedListenSocket } from '../../src/native';
import type { ListenWorkerData } from './fixtures/listen-worker';
import { exchange, requireAddon, startWorker, stopWorker } from './fixtures/harness';

const CONNECTIONS = 200;
const CONCURRENCY = 25;
const MAX_ROUNDS = 5;

/** Opens CONNECTIONS connections and counts replies per answering threadId. */
async function tallyReplies(port: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let sent = 0; sent < CONNECTIONS; sent += CONCURRENCY) {
    const replies = await Promise.all(Array.from({ length: CONCURRENCY }, () => exchange(port)));
    for (const reply of replies) counts.set(reply.trim(), (counts.get(reply.trim()) ?? 0) + 1);
  }
  return counts;
}

/** Resolves with the error a plain (non-reuseport) net.Server gets on host:port, or null if it bound. */
function plainListenError(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', resolve);
    server.listen(port, host, () => server.close(() => resolve(null)));
  });
}

test('two worker threads listening on one port both accept connections', { timeout: 60_000 }, async (t) => {
  if (requireAddon(t) === null) return;
  const host = '127.0.0.1';
  // One socket opened here and handed over by fd, one opened inside the worker itself.
  const first = openSharedListenSocket(host, 0, 128)!;
  const started: { worker: Worker; first: { port: number } }[] = [];
  try {
    for (const fd of [first.fd, null]) {
      const data: ListenWorkerData = { fd, host, port: first.port };
      started.push(await startWorker<{ port: number }>('listen-worker', data));
    }
    for (const { first: listening } of started) assert.equal(listening.port, first.port);
    const threads = started.map(({ worker }) => String(worker.threadId)).sort();

    let counts = new Map<string, number>();
    for (let round = 0; round < MAX_ROUNDS && counts.size < 2; round++) {
      counts = await tallyReplies(first.port);
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      assert.equal(total, CONNECTIONS, `every connection answered once in round ${round}`);
      for (const id of counts.keys()) assert.ok(threads.includes(id), `reply '${id}' is from a worker`);
    }
    assert.deepEqual(
      [...counts.keys()].sort(),
      threads,
      `both threads served: ${JSON.stringify([...counts])}`,
    );
  } finally {
    await Promise.all(started.map(({ worker }) => stopWorker(worker)));
  }
  // Closing the servers closed their fds: the port is free for a plain listener again.
  assert.equal(await plainListenError(host, first.port), null);
});

for (const [family, host, bracketed] of [
  ['IPv4', '127.0.0.1', '127.0.0.1'],
  ['IPv6', '::1', '[::1]'],
] as const) {
  test(`${family}: port 0 picks a port that later sockets can share`, async (t) => {
    const native = requireAddon(t);
    if (native === null) return;
    const first = openSharedListenSocket(host, 0, 16)!;
    const second = openSharedListenSocket(bracketed, first.port, 16)!;
    try {
      assert.ok(first.port > 0);
      assert.equal(second.port, first.port);
      assert.notEqual(second.fd, first.fd);
      assert.equal(native.localPort(second.fd), first.port);
      // The port really is held: a listener without SO_REUSEPORT cannot join.
      assert.equal((await plainListenError(host, first.port))?.code, 'EADDRINUSE');
    } finally {
      native.close(first.fd);
      native.close(second.fd);
    }
  });
}

test('OS and argument errors are thrown like Node system errors', async (t) => {
  const native = requireAddon(t);
  if (native === null) return;
  assert.throws(() => native.listenReusePort('localhost', 0, 16), {
    name: 'TypeError',
    code: 'ERR_INVALID_IP_ADDRESS',
  });
  assert.throws(() => native.listenReusePort('127.0.0.1', 65536, 16), {
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
  });
  assert.throws(() => native.localPort(-1), { code: 'ERR_OUT_OF_RANGE' });

  const plain = net.createServer().listen(0, '127.0.0.1');
  await once(plain, 'listening');
  const { port } = plain.address() as net.AddressInfo;
  try {
    assert.throws(() => openSharedListenSocket('127.0.0.1', port, 16), {
      code: 'EADDRINUSE',
      syscall: 'bind',
      errno: -os.constants.errno.EADDRINUSE,
      message: new RegExp(`127\\.0\\.0\\.1:${port}`),
    });
  } finally {
    await new Promise((resolve) => plain.close(resolve));
  }
});
