/**
 * Large bodies stream through with bounded memory in both directions, and a slow client slows the
 * upstream read instead of making the proxy buffer (flow control end to end).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createHash } from 'node:crypto';
import { startLegate, startOrigin, catchAllYaml, type LegateProcess, type Origin } from './harness';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
/** The proxy may hold socket buffers and a few chunks per stream, never the body. */
const RSS_LIMIT = 200 * MiB;

let origin: Origin;
let legate: LegateProcess;
let port: number;
const chunk = Buffer.alloc(64 * 1024, 'x');

before(async () => {
  origin = await startOrigin();
  // The harness origin buffers request bodies; this one streams both ways instead.
  origin.server.removeAllListeners('request');
  origin.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/download') {
      res.setHeader('content-length', SIZE);
      let sent = 0;
      const pump = (): void => {
        while (sent < SIZE) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      hash.update(c);
    });
    req.on('end', () => res.end(`${n} ${hash.digest('hex')}`));
  });
  legate = await startLegate(catchAllYaml([origin.port], { routeExtra: 'timeout: 0s' }), { concurrency: 1 });
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test(`a ${SIZE / MiB} MiB download streams with bounded proxy memory, even through a paused client`, async () => {
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(legate.proc.pid!))), 20);
  try {
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
          let n = 0;
          let pausedOnce = false;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (!pausedOnce && n > 32 * MiB) {
              // A slow client: stop reading for a while; the proxy must not buffer the rest.
              pausedOnce = true;
              res.pause();
              setTimeout(() => res.resume(), 1000);
            }
          });
          res.on('end', () => resolve(n));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    assert.equal(received, SIZE);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(peak < RSS_LIMIT, `proxy RSS peaked at ${(peak / MiB).toFixed(0)} MiB`);
});

test(`a ${SIZE / MiB} MiB upload streams byte-exact with bounded proxy memory`, async () => {
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(legate.proc.pid!))), 20);
  const hash = createHash('sha256');
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/upload',
          agent: false,
          headers: { 'content-length': SIZE },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < SIZE) {
          const c = Buffer.alloc(chunk.length, sent / chunk.length);
          hash.update(c);
          sent += c.length;
          if (!req.write(c)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(answer, `${SIZE} ${hash.digest('hex')}`);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(peak < RSS_LIMIT, `proxy RSS peaked at ${(peak / MiB).toFixed(0)} MiB`);
});
