import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { headAndBody, openRaw } from './raw-client';

const FIXTURE = path.join(__dirname, 'fixtures', 'uws-worker.js');
const MAX_ATTEMPTS = 300;
const DEADLINE_MS = 10_000;

interface Listening {
  port: number;
  threadId: number;
}

async function startWorker(port: number): Promise<{ worker: Worker; listening: Listening }> {
  const worker = new Worker(FIXTURE, { workerData: { port } });
  const [listening] = (await once(worker, 'message')) as [Listening];
  return { worker, listening };
}

/**
 * A port that was free a moment ago. uWS sets SO_REUSEPORT only for a non-zero port, so threads
 * that share a listener must agree on a concrete port up front.
 */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Asks a worker to close its uWS listener and waits for the thread to end by itself. */
async function stopWorker(worker: Worker): Promise<number> {
  const exited = once(worker, 'exit') as Promise<[number]>;
  worker.postMessage('close');
  const timeout = setTimeout(() => worker.emit('error', new Error('worker did not exit')), 5000);
  try {
    const [code] = await exited;
    return code;
  } finally {
    clearTimeout(timeout);
  }
}

/** One request on a fresh connection (a new source port, so SO_REUSEPORT may pick another thread). */
async function askThreadId(port: number): Promise<number> {
  const conn = await openRaw(port);
  try {
    const raw = await conn.exchange('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', headAndBody);
    return Number(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  } finally {
    conn.close();
  }
}

describe('uWS listeners in worker threads', { timeout: 30_000 }, () => {
  it('two threads share one port, both serve, and both exit cleanly after closing', async () => {
    const port = await freePort();
    const a = await startWorker(port);
    const b = await startWorker(port).catch(async (error: unknown) => {
      await stopWorker(a.worker);
      throw error;
    });
    const running = new Set([a.worker, b.worker]);
    try {
      assert.equal(b.listening.port, port);
      assert.notEqual(a.listening.threadId, b.listening.threadId);

      const seen = new Set<number>();
      const deadline = Date.now() + DEADLINE_MS;
      for (let i = 0; i < MAX_ATTEMPTS && seen.size < 2 && Date.now() < deadline; i++) {
        seen.add(await askThreadId(port));
      }
      assert.deepEqual(
        [...seen].sort((x, y) => x - y),
        [a.listening.threadId, b.listening.threadId].sort((x, y) => x - y),
      );

      // Exiting with an open uWS listen socket would abort this whole process; closing first must not.
      for (const worker of [a.worker, b.worker]) {
        running.delete(worker);
        assert.equal(await stopWorker(worker), 0);
      }
      await assert.rejects(openRaw(port), { code: 'ECONNREFUSED' });
    } finally {
      for (const worker of running) await stopWorker(worker);
    }
  });
});
