/**
 * A request head that starts and never completes is answered 408 and closed after
 * stream_idle_timeout, counted from its first byte as Envoy counts it (its stream exists from the
 * first byte; header bytes do not reset the timer).
 *
 * Regression (issue 10, defect 12): the first byte stopped the connection idle timer, and
 * stream_idle_timeout only started once the head was complete, so a client that sent `G` and nothing
 * more (or dribbled a head byte by byte) kept its connection for ever.
 *
 * Legate's codec only: uWS gives no per-connection events, so it cannot see a partial head (README,
 * uWS limits).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  startLegate,
  startOrigin,
  catchAllYaml,
  request,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

const STREAM_IDLE_MS = 600;
/** The timer wheel ticks every 50 ms; allow for a loaded machine on top. */
const LATE_BOUND_MS = STREAM_IDLE_MS + 1400;

let origin: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin();
  legate = await startLegate(
    catchAllYaml([origin.port], {
      hcmExtra: `
common_http_protocol_options: { idle_timeout: ${STREAM_IDLE_MS / 1000}s }
stream_idle_timeout: ${STREAM_IDLE_MS / 1000}s`,
    }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
});

interface Outcome {
  text: string;
  /** From the first byte written to the server's close; Infinity if it did not close in time. */
  closedAfterMs: number;
  bytesWritten: number;
}

/** Writes `pieces` `gapMs` apart (stopping once the server answers) and waits for the server to close. */
function dribble(pieces: string[], gapMs: number, maxMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let written = 0;
    let start = 0;
    let gapTimer: NodeJS.Timeout | null = null;
    const deadline = setTimeout(() => finish(Infinity), maxMs);
    const finish = (closedAfterMs: number): void => {
      clearTimeout(deadline);
      if (gapTimer !== null) clearTimeout(gapTimer);
      socket.destroy();
      resolve({ text, closedAfterMs, bytesWritten: written });
    };
    const next = (i: number): void => {
      if (i >= pieces.length || text !== '' || socket.destroyed) return;
      socket.write(pieces[i]!);
      written += pieces[i]!.length;
      gapTimer = setTimeout(() => next(i + 1), gapMs);
    };
    socket.on('connect', () => {
      start = performance.now();
      next(0);
    });
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => finish(performance.now() - start));
  });
}

function assert408(o: Outcome, what: string): void {
  assert.match(o.text, /^HTTP\/1\.1 408 Request Timeout\r\n/, what);
  assert.match(o.text, /\r\nconnection: close\r\n/, what);
  assert.ok(o.text.endsWith('\r\n\r\nstream timeout'), `${what}: ${JSON.stringify(o.text)}`);
  assert.ok(
    o.closedAfterMs >= STREAM_IDLE_MS - 60 && o.closedAfterMs < LATE_BOUND_MS,
    `${what}: closed after ${o.closedAfterMs} ms`,
  );
}

test('connections that send one byte of a request get 408 and are closed after stream_idle_timeout', async () => {
  const idleBefore = await stat(legate, 'http.ingress_http.downstream_rq_idle_timeout');
  const xx4Before = await stat(legate, 'http.ingress_http.downstream_rq_4xx');
  const n = 8;
  const outcomes = await Promise.all(Array.from({ length: n }, () => dribble(['G'], 0, 5000)));
  outcomes.forEach((o, i) => assert408(o, `connection ${i}`));
  assert.equal((await stat(legate, 'http.ingress_http.downstream_rq_idle_timeout')) - idleBefore, n);
  assert.equal((await stat(legate, 'http.ingress_http.downstream_rq_4xx')) - xx4Before, n);
});

test('a head dribbled byte by byte, each gap shorter than the timeout, still gets 408 in time', async () => {
  const head = 'GET /dribble HTTP/1.1\r\nHost: a\r\nX-Long-Header: ' + 'v'.repeat(40) + '\r\n\r\n';
  const gapMs = STREAM_IDLE_MS / 4;
  const o = await dribble([...head], gapMs, 5000);
  assert408(o, 'dribbled head');
  assert.ok(o.bytesWritten < head.length, 'answered before the head was complete');
  assert.equal(
    origin.requests.some((r) => r.url === '/dribble'),
    false,
  );
});

test('a head that completes within stream_idle_timeout, in pieces, is served', async () => {
  const head = 'GET /pieces HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
  const thirds = [head.slice(0, 10), head.slice(10, 30), head.slice(30)];
  const o = await dribble(thirds, STREAM_IDLE_MS / 5, 5000);
  assert.match(o.text, /^HTTP\/1\.1 200 /);
  assert.ok(o.text.includes('GET /pieces'));
});

test('keep-alive: the next request on a connection gets its own full timeout', async () => {
  // One request served, then the idle connection: the idle timer (not a 408) ends it.
  const r = await request(port, { path: '/ok' });
  assert.equal(r.status, 200);
  const idle = await stat(legate, 'http.ingress_http.downstream_cx_idle_timeout');
  const o = await dribble(['GET /first HTTP/1.1\r\nHost: a\r\n\r\n'], 0, 5000);
  assert.match(o.text, /^HTTP\/1\.1 200 /);
  // The status line, not any "408" (the origin echoes its port, e.g. 40899).
  assert.doesNotMatch(o.text, /HTTP\/1\.1 408 /);
  assert.equal((await stat(legate, 'http.ingress_http.downstream_cx_idle_timeout')) - idle, 1);
});
