/**
 * stream_idle_timeout as Envoy defines it: the time a stream may go without activity. Bytes moving
 * either way are activity, so a response that trickles for several times the timeout completes;
 * a response that stops for longer than the timeout is cut (the stream is reset once the response
 * started, 408 before it), counted in `downstream_rq_idle_timeout`. Each case runs on whichever
 * engine this pass uses, with each downstream codec; on the native engine a response body with no
 * filter reading it is piped in C, and its bytes must count as activity too.
 *
 * Regression: on the native engine a piped response was cut stream_idle_timeout after its head
 * however steadily its bytes flowed (by default, any download longer than 5 minutes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { catchAllYaml, startLegate, startOrigin, stat } from './harness';

const IDLE_MS = 600;
const GAP_MS = 200;
const CHUNKS = 10; // 10 × 200 ms = 2 s of trickle, over three times the idle timeout

/** GET /x on a fresh connection; what came back, whether it ended with the last chunk, and when it closed. */
function get(port: number, path: string): Promise<{ text: string; complete: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', () => {});
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, complete: text.endsWith('0\r\n\r\n'), ms: Date.now() - t0 });
    });
  });
}

for (const codec of ['legate', 'uws']) {
  test(`stream_idle_timeout: a trickling response completes, a stalled one is cut after the timeout, ${codec} codec`, async () => {
    const origin = await startOrigin((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.flushHeaders();
      let sent = 0;
      const stallAfter = req.url === '/stall' ? 1 : CHUNKS;
      const timer = setInterval(() => {
        if (sent === stallAfter) {
          clearInterval(timer);
          if (stallAfter === CHUNKS) res.end();
          return; // /stall: never another byte (the origin closes with the test)
        }
        res.write(`chunk ${sent++}\n`);
      }, GAP_MS);
      res.on('close', () => clearInterval(timer));
    });
    const legate = await startLegate(
      catchAllYaml([origin.port], { hcmExtra: `stream_idle_timeout: ${IDLE_MS / 1000}s` }),
      { concurrency: 1, args: ['--http1-codec', codec] },
    );
    try {
      const port = legate.ports.get('proxy')!;
      const trickle = await get(port, '/trickle');
      assert.ok(trickle.complete, `the trickling response completed: ${trickle.text.slice(-200)}`);
      for (let i = 0; i < CHUNKS; i++) assert.ok(trickle.text.includes(`chunk ${i}\n`), `chunk ${i}`);
      assert.equal(await stat(legate, 'http.ingress_http.downstream_rq_idle_timeout'), 0);

      const stalled = await get(port, '/stall');
      assert.match(stalled.text, /^HTTP\/1\.1 200 /, 'the response had started');
      assert.ok(!stalled.complete, 'the stalled response was cut, not completed');
      assert.ok(stalled.text.includes('chunk 0\n'), 'what came before the stall arrived');
      assert.ok(
        stalled.ms >= IDLE_MS && stalled.ms < IDLE_MS + GAP_MS + 1500,
        `cut ${stalled.ms} ms after the request: the timeout is ${IDLE_MS} ms after the last byte`,
      );
      assert.equal(await stat(legate, 'http.ingress_http.downstream_rq_idle_timeout'), 1);
    } finally {
      await legate.stop();
      await origin.close();
    }
  });
}
