import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { takeAcceptedSocketFd } from '../../src/native';
import { exchange, requireAddon, startWorker, stopWorker, within } from './fixtures/harness';

/** Whether a connect to 127.0.0.1:port completes (a listening socket completes it even unaccepted). */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

test('an accepted socket handed to a worker by dup round-trips data', { timeout: 30_000 }, async (t) => {
  if (requireAddon(t) === null) return;
  const { worker, first } = await startWorker<string>('adopt-worker');
  const handedOff: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const fd = takeAcceptedSocketFd(socket);
    if (fd === null) return void socket.destroy(); // fails the exchange below: nothing echoes
    handedOff.push(socket);
    worker.postMessage({ fd });
  });
  try {
    assert.equal(first, 'ready');
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    for (const word of ['hello', 'legate', 'x'.repeat(100_000)]) {
      const closed = once(worker, 'message');
      // The client half-closes after writing: the worker still answers (allowHalfOpen), then ends.
      assert.equal(await exchange(port, word), `${worker.threadId}:${word.toUpperCase()}`);
      const [message] = (await within(closed, 'worker socket close')) as [{ closed: number }];
      assert.equal(typeof message.closed, 'number');
    }
    assert.equal(handedOff.length, 3);
    assert.ok(handedOff.every((socket) => socket.destroyed && socket.bytesRead === 0));
  } finally {
    server.close();
    assert.equal(await stopWorker(worker), 0);
  }
});

test('dup keeps a socket open past close of the original; close releases each fd', async (t) => {
  const native = requireAddon(t);
  if (native === null) return;
  const fd = native.listenReusePort('127.0.0.1', 0, 16);
  const port = native.localPort(fd);
  const copy = native.dup(fd);
  assert.notEqual(copy, fd);
  assert.equal(native.localPort(copy), port);

  native.close(fd);
  assert.equal(existsSync(`/proc/self/fd/${fd}`), false);
  assert.throws(() => native.close(fd), { code: 'EBADF', syscall: 'close' });
  assert.equal(await connects(port), true, 'the copy still listens');

  native.close(copy);
  assert.equal(existsSync(`/proc/self/fd/${copy}`), false);
  assert.equal(await connects(port), false, 'nothing listens once the last copy is closed');
  assert.throws(() => native.dup(copy), { code: 'EBADF', syscall: 'dup' });
});
