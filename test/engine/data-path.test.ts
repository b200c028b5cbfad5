/**
 * What only the native engine has to get right: which listeners it serves, bodies moving between
 * two of its connections without JS (pipes) with every byte counted, and no file descriptor left
 * behind whatever way a connection ends. Everything else the engine does is the codec's contract,
 * which the rest of the suite checks on every engine (CI runs it with LEGATE_ENGINE=js too).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { NativeEngine } from '../../src/engine/native-engine';
import {
  admin,
  catchAllYaml,
  request,
  startLegate,
  startOrigin,
  stat,
  withLegate,
} from '../integration/harness';

/** The path a plain HTTP listener gets in this run (native unless the engine is off or absent). */
const EXPECTED_PATH = NativeEngine.unavailableReason() === null ? 'native' : 'js';

const STDOUT_LOG = `access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
`;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

test(`a listener whose chain is the HTTP connection manager alone is served on the ${EXPECTED_PATH} path; one with a listener access log on Node's sockets`, async (t) => {
  t.diagnostic(`engine: ${NativeEngine.unavailableReason() ?? 'available'}`);
  const origin = await startOrigin();
  try {
    const plain = catchAllYaml([origin.port]);
    // A listener-level access log needs the connection's Node socket: that listener stays on JS.
    const logged = plain.replace(
      '  - name: proxy\n',
      `  - name: proxy\n${STDOUT_LOG.replace(/^(?=.)/gm, '    ')}`,
    );
    for (const [yaml, expected] of [
      [plain, EXPECTED_PATH],
      [logged, 'js'],
    ] as const) {
      await withLegate(yaml, { concurrency: 2 }, async (lp) => {
        const info = JSON.parse((await admin(lp, '/server_info')).body.toString());
        assert.deepEqual(info.legate.listener_data_paths, { proxy: expected });
        const listeners = JSON.parse((await admin(lp, '/listeners?format=json')).body.toString());
        assert.equal(listeners.listener_statuses[0].legate_data_path, expected);
        const r = await request(lp.ports.get('proxy')!);
        assert.equal(r.status, 200);
        assert.match(r.body.toString(), /^origin \d+ GET \/\n$/);
      });
    }
  } finally {
    await origin.close();
  }
});

test('8 MiB bodies both ways, both framings: bytes exact, and every byte counted on both sides', async () => {
  const SIZE = 8 * 1024 * 1024;
  // The origin answers with the sha256 of what it got, then `size` bytes of its own.
  const download = randomBytes(SIZE);
  const origin = await startOrigin((req, res, body) => {
    res.setHeader('x-upload-sha256', sha256(body));
    res.setHeader('x-upload-bytes', String(body.length));
    if (req.url === '/chunked') {
      res.write(download.subarray(0, SIZE / 2));
      res.end(download.subarray(SIZE / 2));
    } else {
      res.setHeader('content-length', SIZE);
      res.end(download);
    }
  });
  try {
    const hcmExtra = `access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
    log_format:
      text_format_source: { inline_string: "BYTES %REQ(:PATH)% %BYTES_RECEIVED% %BYTES_SENT%\\n" }`;
    await withLegate(catchAllYaml([origin.port], { hcmExtra }), { concurrency: 1 }, async (lp) => {
      const port = lp.ports.get('proxy')!;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let uploaded = 0;
      for (const framing of ['content-length', 'chunked'] as const) {
        const upload = randomBytes(SIZE);
        const r = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>(
          (resolve, reject) => {
            const req = http.request(
              {
                host: '127.0.0.1',
                port,
                method: 'POST',
                path: framing === 'chunked' ? '/chunked' : '/',
                agent,
                headers:
                  framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': SIZE },
              },
              (res) => {
                const chunks: Buffer[] = [];
                res.on('data', (c: Buffer) => chunks.push(c));
                res.on('end', () =>
                  resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
                );
              },
            );
            req.on('error', reject);
            // In pieces, so the body streams while the proxy relays it.
            for (let off = 0; off < SIZE; off += 1024 * 1024)
              req.write(upload.subarray(off, off + 1024 * 1024));
            req.end();
          },
        );
        uploaded += SIZE;
        assert.equal(r.status, 200, framing);
        assert.equal(r.headers['x-upload-bytes'], String(SIZE), framing);
        assert.equal(r.headers['x-upload-sha256'], sha256(upload), `${framing}: upload bytes`);
        assert.equal(r.body.length, SIZE, framing);
        assert.equal(sha256(r.body), sha256(download), `${framing}: download bytes`);
      }
      agent.destroy();
      // Piped bytes never pass through JS, but the access log and the counters see each of them.
      const deadline = Date.now() + 3000;
      let lines: string[] = [];
      while (lines.length < 2 && Date.now() < deadline) {
        lines = lp
          .output()
          .split('\n')
          .filter((l) => l.startsWith('BYTES '));
        if (lines.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(lines, [`BYTES / ${SIZE} ${SIZE}`, `BYTES /chunked ${SIZE} ${SIZE}`]);
      const upstreamTx = await stat(lp, 'cluster.o.upstream_cx_tx_bytes_total');
      const upstreamRx = await stat(lp, 'cluster.o.upstream_cx_rx_bytes_total');
      // Bodies plus heads and chunk framing (a few KiB at most).
      assert.ok(upstreamTx >= uploaded && upstreamTx < uploaded + 64 * 1024, `upstream tx ${upstreamTx}`);
      assert.ok(upstreamRx >= 2 * SIZE && upstreamRx < 2 * SIZE + 64 * 1024, `upstream rx ${upstreamRx}`);
    });
  } finally {
    await origin.close();
  }
});

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Connects, writes `data`, then ends the connection as `how` says once `afterMs` passed. */
function oneConnection(
  port: number,
  data: string,
  how: 'read' | 'reset' | 'close',
  afterMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      if (how === 'reset') sock.resetAndDestroy();
      else sock.destroy();
    }, afterMs);
    sock.on('data', () => {});
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    sock.write(data);
    if (how === 'read') sock.end();
  });
}

test('connections ending every way leave the proxy with the file descriptors it started with', async () => {
  // The origin answers slowly, streams long bodies, or resets: so the ends below meet
  // exchanges in every state (head pending, body streaming both ways, pooled idle).
  const origin = await startOrigin((req, res) => {
    if (req.url === '/reset') {
      res.socket?.resetAndDestroy();
      return;
    }
    if (req.url === '/stream') {
      res.write('x'.repeat(64 * 1024));
      const timer = setInterval(() => res.write('y'.repeat(64 * 1024)), 5);
      res.on('close', () => clearInterval(timer));
      setTimeout(() => res.end(), 300);
      return;
    }
    res.end('ok');
  });
  const lp = await startLegate(catchAllYaml([origin.port]), { concurrency: 1 });
  try {
    const port = lp.ports.get('proxy')!;
    const pid = lp.proc.pid!;
    // Warm up: the pool's first connection and the worker's lazily opened descriptors.
    assert.equal((await request(port)).status, 200);
    const baseline = openFds(pid);
    const upload = `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n${'u'.repeat(30_000)}`;
    const shapes: [string, 'read' | 'reset' | 'close', number][] = [
      ['GET / HTTP/1.1\r\nhost: x\r\n\r\n', 'read', 500],
      ['GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', 'read', 500],
      ['GET /stream HTTP/1.1\r\nhost: x\r\n\r\n', 'close', 50],
      ['GET /stream HTTP/1.1\r\nhost: x\r\n\r\n', 'reset', 50],
      [upload, 'close', 30],
      [upload, 'reset', 30],
      ['GET /reset HTTP/1.1\r\nhost: x\r\n\r\n', 'read', 500],
      ['GET / HTT', 'close', 30],
      ['GARBAGE\r\n\r\n', 'read', 500],
    ];
    for (let round = 0; round < 5; round++)
      await Promise.all(shapes.map(([data, how, ms]) => oneConnection(port, data, how, ms)));
    // Upstream connections may stay pooled (idle keep-alive), but no more than were ever busy at once.
    const deadline = Date.now() + 5000;
    let open = openFds(pid);
    while (open > baseline + shapes.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      open = openFds(pid);
    }
    assert.ok(open <= baseline + shapes.length, `${open} fds open, ${baseline} after warm-up`);
    // Once the origin closes its side, the pooled ones go too: back to the baseline less the warm-up's.
    await origin.close();
    const closedDeadline = Date.now() + 5000;
    while (openFds(pid) > baseline && Date.now() < closedDeadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      openFds(pid) <= baseline,
      `${openFds(pid)} fds open after the origin closed, ${baseline} at start`,
    );
    assert.equal(await stat(lp, 'http.ingress_http.downstream_cx_active'), 0);
  } finally {
    await lp.stop();
    await origin.close();
  }
});
