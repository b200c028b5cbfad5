/**
 * Downstream timeouts: connection idle_timeout, request_headers_timeout (slowloris), request_timeout.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { startLegate, startOrigin, catchAllYaml, stat, type LegateProcess, type Origin } from './harness';

let origin: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin();
  legate = await startLegate(
    catchAllYaml([origin.port], {
      hcmExtra: `
common_http_protocol_options: { idle_timeout: 0.4s }
request_headers_timeout: 0.4s
request_timeout: 0.6s`,
    }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
});

/** Opens a connection, writes `data`, and resolves with what came back and when the server closed. */
function until(data: string, maxMs: number): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let text = '';
    s.on('data', (d) => (text += d.toString('latin1')));
    const timer = setTimeout(() => s.destroy(), maxMs);
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - t0 });
    });
  });
}

test('an idle keep-alive connection is closed after idle_timeout', async () => {
  const r = await until('GET /one HTTP/1.1\r\nHost: a\r\n\r\n', 3000);
  assert.match(r.text, /^HTTP\/1\.1 200/);
  assert.ok(r.closedAfterMs >= 300 && r.closedAfterMs < 2000, `closed after ${r.closedAfterMs} ms`);
  assert.ok((await stat(legate, 'http.ingress_http.downstream_cx_idle_timeout')) >= 1);
});

test('a request head that never completes gets 408 after request_headers_timeout, as in Envoy', async () => {
  const r = await until('GET /slowloris HTTP/1.1\r\nHost: a\r\nX-Dribble: ', 3000);
  assert.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.ok(r.text.endsWith('\r\n\r\nrequest header timeout'), r.text);
  assert.ok(r.closedAfterMs >= 300 && r.closedAfterMs < 2000, `closed after ${r.closedAfterMs} ms`);
  assert.ok((await stat(legate, 'http.ingress_http.downstream_rq_header_timeout')) >= 1);
});

test('a request body that never completes gets 408 after request_timeout', async () => {
  const before = origin.requests.length;
  const r = await until('POST /slow-body HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc', 3000);
  assert.match(r.text, /^HTTP\/1\.1 408/);
  assert.ok(r.closedAfterMs >= 500, `answered after ${r.closedAfterMs} ms`);
  assert.equal(origin.requests.length, before, 'the origin never saw a complete request');
  assert.ok((await stat(legate, 'http.ingress_http.downstream_rq_timeout')) >= 1);
});
