/**
 * A pooled upstream connection serves the next request whatever shape the previous response had.
 *
 * Regression (issue 10, defect 1): a chunked response with one body piece of 16 KiB or more made
 * the downstream write cross its high watermark, the router paused the upstream socket, and the
 * response completed in the same parse: the connection went back to the pool still paused and the
 * next request on it hung until the route timeout (200, 504, 200, 504 …).
 *
 * Each shape × five requests in a row, through one worker (one pool, one upstream connection),
 * on fresh downstream connections and on one keep-alive downstream connection, on both downstream
 * codecs. Every request must succeed with the exact body, quickly, and the one upstream connection
 * must serve them all.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { startLegate, catchAllYaml, type LegateProcess } from './harness';

/** Body sizes around the 16 KiB write high watermark of Node sockets. */
const SIZES = [1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 20_000, 64 * 1024, 1024 * 1024];
const FRAMINGS = ['chunked', 'length', 'pieces'] as const;
const REQUESTS_PER_SHAPE = 5;
/** Far below the route timeout (3 s): a request parked on a paused connection cannot pass. */
const MAX_REQUEST_MS = 1500;

let origin: net.Server;
let originPort: number;
let originConnections = 0;

before(async () => {
  // /chunked/N: one N-byte write, then end (node:http sends it chunked, one piece).
  // /length/N: the same with a Content-Length. /pieces/N: N bytes in 1 KiB chunked pieces.
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const [, framing, n] = req.url!.split('/');
    const size = Number(n);
    if (framing === 'length') res.setHeader('content-length', size);
    if (framing === 'pieces') {
      for (let sent = 0; sent < size; sent += 1024) res.write('p'.repeat(Math.min(1024, size - sent)));
    } else res.write('y'.repeat(size));
    res.end();
  });
  server.on('connection', () => originConnections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = server;
  originPort = (server.address() as net.AddressInfo).port;
});

after(() => {
  (origin as http.Server | undefined)?.closeAllConnections();
  origin?.close();
});

interface Timed {
  status: number;
  bytes: number;
  ms: number;
}

/** A slow client stops reading for this long after the first body bytes (the proxy's writes back up). */
const SLOW_CLIENT_PAUSE_MS = 40;

function get(port: number, path: string, agent: http.Agent | false, slow: boolean): Promise<Timed> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (slow && bytes === 0) {
          res.pause();
          setTimeout(() => res.resume(), SLOW_CLIENT_PAUSE_MS);
        }
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode!, bytes, ms: performance.now() - start }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`client timeout on ${path}`)));
  });
}

async function runMatrix(codec: 'legate' | 'uws'): Promise<void> {
  let legate: LegateProcess | null = null;
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    legate = await startLegate(catchAllYaml([originPort], { routeExtra: 'timeout: 3s' }), {
      concurrency: 1,
      args: ['--http1-codec', codec],
    });
    const port = legate.ports.get('proxy')!;
    const connectionsBefore = originConnections;
    for (const framing of FRAMINGS) {
      for (const size of SIZES) {
        for (const [label, agent, slow] of [
          ['fresh downstream connections', false, false],
          ['one keep-alive downstream connection', keepAlive, false],
          ['one keep-alive downstream connection, slow reader', keepAlive, true],
        ] as const) {
          for (let i = 0; i < REQUESTS_PER_SHAPE; i++) {
            const r = await get(port, `/${framing}/${size}`, agent, slow);
            const where = `${codec} codec, ${framing} ${size} B, ${label}, request ${i + 1}`;
            assert.equal(r.status, 200, where);
            assert.equal(r.bytes, size, where);
            const bound = MAX_REQUEST_MS + (slow ? SLOW_CLIENT_PAUSE_MS : 0);
            assert.ok(r.ms < bound, `${where}: took ${r.ms.toFixed(0)} ms`);
          }
        }
      }
    }
    // Sequential requests through one worker: the first upstream connection served every one.
    assert.equal(originConnections - connectionsBefore, 1, 'upstream connections opened');
  } finally {
    keepAlive.destroy();
    await legate?.stop();
  }
}

test("every response shape leaves the pooled upstream connection usable (Legate's codec)", () =>
  runMatrix('legate'));

test('every response shape leaves the pooled upstream connection usable (uWS codec)', () => runMatrix('uws'));
