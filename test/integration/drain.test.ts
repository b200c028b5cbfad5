/**
 * SIGTERM drains (src/common/drain.ts): on both downstream codecs and both tcp_proxy relays,
 *  - a steady keep-alive load loses no request: every request written gets its response, and the
 *    responses sent while draining carry `Connection: close` (Envoy's drain for HTTP/1);
 *  - a request that arrives on a recently used idle keep-alive connection is still answered;
 *    such a connection is closed once quiet, at the latest at the HCM's `drain_timeout`;
 *  - with only idle connections (a keep-alive HTTP one, a tcp_proxy session) the process exits
 *    in well under a second, whatever `--drain-time-s` says;
 *  - a tcp_proxy session still moving bytes gets a bounded grace; one that goes quiet closes then.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { test } from 'node:test';
import {
  catchAllVirtualHost,
  httpProxyYaml,
  startLegate,
  startOrigin,
  staticCluster,
  tcpProxyListener,
} from './harness';
import type { LegateProcess, Origin } from './harness';
import { connect, l4Paths, startEcho, within, type Upstream } from '../l4/fixtures';
import { KeepAliveLoad } from '../support/keep-alive-load';

const CODECS = ['legate', 'uws'] as const;
type Codec = (typeof CODECS)[number];
const RELAYS = l4Paths();
/** Longer than any test here: a drain that waited for it would fail the test's own bound. */
const DRAIN_TIME_ARGS = ['--drain-time-s', '30'];
/** Runs of the keep-alive load per codec: a lost request is a race, so one clean run proves little. */
const LOAD_RUNS = 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An HTTP listener `proxy` (codec `codec`) to cluster `o`, and a tcp_proxy listener `tcp` to cluster `e`. */
function drainYaml(codec: Codec, originPort: number, echoPort: number, hcmExtra = ''): string {
  return httpProxyYaml({
    listenerExtra: `legate_http1_codec: ${codec}`,
    hcmExtra,
    virtualHosts: catchAllVirtualHost(),
    clusters: `${staticCluster('o', [originPort])}\n${staticCluster('e', [echoPort])}`,
    extraListeners: tcpProxyListener({ cluster: 'e' }),
  });
}

interface Setup {
  origin: Origin;
  echo: Upstream;
  legate: LegateProcess;
}

async function withSetup(
  codec: Codec,
  opts: { env?: Record<string, string>; hcmExtra?: string; slowOrigin?: boolean },
  body: (s: Setup) => Promise<void>,
): Promise<void> {
  const origin = await startOrigin(
    opts.slowOrigin
      ? (_req, res) => {
          // The head now, the body 20 ms later: responses are mostly in flight when SIGTERM comes.
          res.writeHead(200, { 'content-length': '2' });
          res.flushHeaders();
          setTimeout(() => res.end('ok'), 20);
        }
      : undefined,
  );
  const echo = await startEcho();
  let legate: LegateProcess | null = null;
  try {
    legate = await startLegate(drainYaml(codec, origin.port, echo.port, opts.hcmExtra), {
      args: DRAIN_TIME_ARGS,
      env: opts.env,
    });
    await body({ origin, echo, legate });
  } finally {
    await legate?.stop('SIGKILL');
    await origin.close();
    await echo.close();
  }
}

/** Sends SIGTERM; resolves with the exit code and how long the exit took (or fails past `boundMs`). */
async function terminate(
  legate: LegateProcess,
  boundMs: number,
): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await within(legate.stop('SIGTERM'), `exit after SIGTERM`, boundMs);
  return { code, ms: Date.now() - started };
}

/** A raw keep-alive client: one request, the response text, and whether the server closed after it. */
class RawClient {
  private text = '';
  readonly closed: Promise<void>;
  closedAt = 0;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (this.text += d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static async open(port: number): Promise<RawClient> {
    return new RawClient(await connect(port, false));
  }

  /** Sends a GET and waits for its whole (Content-Length framed) response. */
  async get(path: string): Promise<string> {
    const from = this.text.length;
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const deadline = Date.now() + 5000;
    for (;;) {
      const text = this.text.slice(from);
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /content-length: *(\d+)/i.exec(text);
      if (headEnd >= 0 && length && text.length >= headEnd + 4 + Number(length[1])) return text;
      if (this.socket.destroyed) throw new Error(`connection closed before the response to ${path}: ${text}`);
      if (Date.now() > deadline) throw new Error(`no response to ${path}: ${text}`);
      await sleep(5);
    }
  }
}

for (const codec of CODECS) {
  test(`${codec} codec: SIGTERM under a steady keep-alive load loses no request (${LOAD_RUNS} runs)`, async (t) => {
    for (let run = 1; run <= LOAD_RUNS; run++) {
      await withSetup(codec, { slowOrigin: true }, async ({ legate }) => {
        // 40 connections, each waiting ~20 ms for its response: about 2,000 req/s on an idle machine.
        const load = new KeepAliveLoad(legate.ports.get('proxy')!, { connections: 40 });
        try {
          await load.start();
          await sleep(1000);
          const sentBefore = load.result.sent;
          const exit = terminate(legate, 10_000);
          await within(load.closed, 'every connection closed by the drain', 10_000);
          const { code, ms } = await exit;
          const r = load.result;
          t.diagnostic(
            `run ${run}: ${sentBefore} requests in the second before SIGTERM; in all: sent ${r.sent}, ` +
              `answered ${r.answered}, with Connection: close ${r.closeAnswers}, lost ${r.lost}, ` +
              `closed idle ${r.closedIdle}; exit after ${ms} ms`,
          );
          assert.deepEqual(r.unexpected, []);
          assert.ok(sentBefore >= 80, `the load ran (${sentBefore} requests in 1 s)`);
          assert.equal(
            r.lost,
            0,
            `run ${run}: requests written whose connection closed without their response`,
          );
          assert.equal(r.answered, r.sent);
          assert.ok(r.closeAnswers > 0, 'responses during the drain carry Connection: close');
          assert.equal(code, 0);
        } finally {
          load.destroy();
        }
      });
    }
  });

  test(`${codec} codec: a request on a recently used keep-alive connection during the drain is answered`, async () => {
    await withSetup(codec, {}, async ({ legate }) => {
      const client = await RawClient.open(legate.ports.get('proxy')!);
      assert.match(await client.get('/before'), /^HTTP\/1\.1 200 /);
      await sleep(100);
      const exit = terminate(legate, 5000);
      await sleep(300);
      const during = await client.get('/during');
      assert.match(during, /^HTTP\/1\.1 200 /);
      assert.match(during, /\r\nconnection: close\r\n/i);
      assert.match(during, /origin \d+ GET \/during/);
      await within(client.closed, 'the server closes the connection');
      assert.equal((await exit).code, 0);
    });
  });

  test(`${codec} codec: drain_timeout bounds how long a recently used idle connection stays open`, async () => {
    await withSetup(codec, { hcmExtra: 'drain_timeout: 0.2s' }, async ({ legate }) => {
      const client = await RawClient.open(legate.ports.get('proxy')!);
      assert.match(await client.get('/'), /^HTTP\/1\.1 200 /);
      const sigterm = Date.now();
      const exit = terminate(legate, 5000);
      await within(client.closed, 'the server closes the connection');
      const after = client.closedAt - sigterm;
      // Quiet for 1 s would close it at ~1 s; drain_timeout closes it at ~0.2 s.
      assert.ok(after >= 150 && after < 800, `closed ${after} ms after SIGTERM`);
      assert.equal((await exit).code, 0);
    });
  });

  for (const relay of RELAYS) {
    test(`${codec} codec, ${relay.name} relay: SIGTERM with an idle keep-alive connection and an idle tcp_proxy session exits in under 1 s`, async (t) => {
      await withSetup(codec, { env: relay.env }, async ({ legate, echo }) => {
        const http = await RawClient.open(legate.ports.get('proxy')!);
        assert.match(await http.get('/'), /^HTTP\/1\.1 200 /);
        const tcp = await connect(legate.ports.get('tcp')!, false);
        tcp.on('error', () => {});
        const tcpClosed = once(tcp, 'close');
        const deadline = Date.now() + 5000;
        while (echo.sockets.size === 0 && Date.now() < deadline) await sleep(10);
        assert.equal(echo.sockets.size, 1, 'the tcp_proxy session reached its upstream');
        await sleep(1200); // both idle for longer than the drain's quiet period
        const { code, ms } = await terminate(legate, 5000);
        t.diagnostic(`exited ${ms} ms after SIGTERM`);
        assert.equal(code, 0);
        assert.ok(ms < 1000, `exited ${ms} ms after SIGTERM`);
        await within(http.closed, 'the HTTP connection closed', 1000);
        await within(tcpClosed, 'the tcp_proxy session closed', 1000);
      });
    });
  }
}

for (const relay of RELAYS) {
  test(`${relay.name} relay: busy tcp_proxy sessions close once quiet, or after the 5 s grace`, async () => {
    await withSetup('legate', { env: relay.env }, async ({ legate }) => {
      const busy = await connect(legate.ports.get('tcp')!, false);
      const quieting = await connect(legate.ports.get('tcp')!, false);
      const closedAt = new Map<net.Socket, number>();
      for (const s of [busy, quieting]) {
        s.on('error', () => {});
        s.resume();
        s.once('close', () => closedAt.set(s, Date.now()));
      }
      const tick = (s: net.Socket) => setInterval(() => s.writable && s.write('tick'), 20);
      const busyTicker = tick(busy);
      let quietingTicker: NodeJS.Timeout | undefined = tick(quieting);
      try {
        await sleep(300);
        const sigterm = Date.now();
        const exit = terminate(legate, 10_000);
        await sleep(500);
        clearInterval(quietingTicker);
        quietingTicker = undefined;
        const { code, ms } = await exit;
        assert.equal(code, 0);
        const quietClosed = (closedAt.get(quieting) ?? Infinity) - sigterm;
        const busyClosed = (closedAt.get(busy) ?? Infinity) - sigterm;
        // Quiet from 0.5 s on: closed about 1 s later. Busy throughout: closed at the grace's end.
        assert.ok(quietClosed >= 1300 && quietClosed < 2500, `quiet session closed after ${quietClosed} ms`);
        assert.ok(busyClosed >= 4800 && busyClosed < 6500, `busy session closed after ${busyClosed} ms`);
        assert.ok(ms < 7000, `exited ${ms} ms after SIGTERM`);
      } finally {
        clearInterval(busyTicker);
        if (quietingTicker) clearInterval(quietingTicker);
        busy.destroy();
        quieting.destroy();
      }
    });
  });
}
