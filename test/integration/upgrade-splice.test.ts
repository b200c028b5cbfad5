/**
 * Upgraded streams moved to the splice relay (http/tunnel-splice.ts): with the addon (the default
 * pass) a tunnel leaves JS once it carried SPLICE_AFTER_BYTES, and everything the JS tunnel
 * guarantees still holds; with LEGATE_NATIVE=0 the same tests run on the JS tunnel. The switch keeps bytes in
 * order, flow control bounds what the proxy holds either way, byte counts reach the access log
 * and the cluster's stats, a drain waits for an open tunnel, and nothing leaks (fds, pipes).
 * test/integration/upgrades.test.ts has the rest of the upgrade semantics, on both paths too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  catchAllVirtualHost,
  fileAccessLogYaml,
  httpProxyYaml,
  request,
  startLegate,
  staticCluster,
  stat,
  type LegateProcess,
  type StartOptions,
} from './harness';
import { startUpgradeOrigin, type UpgradeOrigin } from '../support/upgrade-origin';
import { execFileSync } from 'node:child_process';
import {
  PIPE_FDS_PER_SPLICED_TUNNEL,
  SPLICE_FILL,
  expectSplicedTunnels,
  pipeFdCount,
  tunnelsSpliced,
} from '../support/spliced-tunnels';
import { requireTool } from '../support/system-tools';
import { settledFdCount } from '../l4/fixtures';

const WAIT_MS = 10_000;
const MiB = 1024 * 1024;

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function spliceYaml(origin: UpgradeOrigin, hcmExtra = ''): string {
  return httpProxyYaml({
    hcmExtra: `upgrade_configs: [{ upgrade_type: echo }]\n${hcmExtra}`,
    virtualHosts: catchAllVirtualHost(),
    clusters: staticCluster('o', [origin.port]),
  });
}

/** A raw `Upgrade: echo` client: what it read so far (latin1), and its end and close. */
interface Tunnel {
  socket: net.Socket;
  /** What it read (without `keepText`, only the first 4 KiB). */
  text(): string;
  bytes(): number;
  /** Bytes read after the response head. */
  bodyBytes(): number;
  ended: Promise<void>;
  closed: Promise<void>;
}

function openTunnel(port: number, urlPath: string, early = '', keepText = true): Tunnel {
  const socket = net.connect(port, '127.0.0.1');
  socket.allowHalfOpen = true;
  socket.on('error', () => {});
  let text = '';
  let bytes = 0;
  socket.on('data', (d: Buffer) => {
    bytes += d.length;
    if (keepText || text.length < 4096) text += d.toString('latin1');
  });
  socket.write(`GET ${urlPath} HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n${early}`);
  return {
    socket,
    text: () => text,
    bytes: () => bytes,
    bodyBytes: () => {
      const head = text.indexOf('\r\n\r\n');
      return head === -1 ? 0 : bytes - head - 4;
    },
    ended: new Promise((r) => socket.once('end', r)),
    closed: new Promise((r) => socket.once('close', r)),
  };
}

/** The largest value of a `min default max` sysctl (e.g. net/ipv4/tcp_rmem). */
function sysctlMax(name: string): number {
  return Number(fs.readFileSync(`/proc/sys/${name}`, 'utf8').trim().split(/\s+/).pop());
}

/**
 * Legate in front of a fresh origin, with one tunnel opened and closed first (the first splice
 * starts the relay thread and its epoll fd), then `body` with the process's settled fd and pipe
 * counts once that tunnel is gone.
 */
async function withSpliceLegate(
  hcmExtra: string,
  body: (
    legate: LegateProcess,
    port: number,
    origin: UpgradeOrigin,
    base: { fds: number; pipes: number },
  ) => Promise<void>,
  opts: StartOptions = {},
): Promise<void> {
  const origin = await startUpgradeOrigin();
  const legate = await startLegate(spliceYaml(origin, hcmExtra), { concurrency: 1, ...opts });
  try {
    const port = legate.ports.get('proxy')!;
    const warm = openTunnel(port, '/echo', SPLICE_FILL + 'warm');
    await waitFor('the warm-up echo', () => warm.text().endsWith('warm'));
    warm.socket.end();
    await warm.closed;
    await waitFor(
      'no tunnel',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
    const fds = await settledFdCount(legate.proc.pid!);
    await body(legate, port, origin, { fds, pipes: pipeFdCount(legate.proc.pid!) });
  } finally {
    await legate.stop();
    await origin.close();
  }
}

test('an idle tunnel stays in JS; the switch keeps bytes in order: the origin’s bytes behind its 101, the client’s behind its request, and a stream of writes across the switch', async () => {
  await withSpliceLegate('', async (legate, port, _origin, { fds, pipes }) => {
    const pid = legate.proc.pid!;
    const tunnel = openTunnel(port, '/greet', 'early;');
    await waitFor('the greeting', () => tunnel.text().endsWith('greeting:early;'));
    await sleep(100);
    await expectSplicedTunnels(pid, pipes, 0); // a few bytes: not worth six fds
    // 1 KiB writes, 2 ms apart, from well before the switch (at SPLICE_FILL's bytes both ways) to
    // well after it.
    const COUNT = 150;
    let expected = 'greeting:early;';
    for (let i = 0; i < COUNT; i++) {
      const piece = `<${i}>`.padEnd(1024, '.');
      expected += piece;
      tunnel.socket.write(piece);
      await sleep(2);
    }
    await waitFor('every piece echoed', () => tunnel.text().endsWith(`<${COUNT - 1}>`.padEnd(1024, '.')));
    const body = tunnel.text().slice(tunnel.text().indexOf('\r\n\r\n') + 4);
    assert.equal(body, expected);
    await expectSplicedTunnels(legate.proc.pid!, pipes, 1);
    // And after the switch, both ways.
    tunnel.socket.write('after');
    await waitFor('the echo after the switch', () => tunnel.text().endsWith('after'));
    tunnel.socket.end();
    await tunnel.ended;
    assert.ok(tunnel.text().endsWith('afterbye'));
    await tunnel.closed;
    await waitFor(
      'no tunnel',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
    assert.equal(await settledFdCount(pid), fds, 'no fd left behind');
    assert.equal(pipeFdCount(pid), pipes, 'no pipe left behind');
  });
});

test('flow control bounds what a tunnel holds, each way: a stalled origin stalls the client’s upload, a stalled client the origin’s download; every byte arrives once they read', async () => {
  // What the kernel may hold: a receive and a send buffer on each of the two connections (loopback
  // autotunes them up to these maxima), and the relay's pipe or the JS watermark (1 MiB). The
  // proxy holding all of a transfer twice that size would fail.
  const BOUND = 2 * (sysctlMax('net/ipv4/tcp_rmem') + sysctlMax('net/ipv4/tcp_wmem')) + 4 * MiB;
  const TOTAL = Math.ceil((2 * BOUND) / MiB) * MiB;
  await withSpliceLegate('', async (legate, port, origin, { fds, pipes }) => {
    const pid = legate.proc.pid!;

    // Upload into /sink, which reads nothing yet.
    const up = openTunnel(port, '/sink');
    await waitFor('the 101', () => up.text().includes('\r\n\r\n'));
    const chunk = Buffer.alloc(MiB, 0x61);
    let queued = 0;
    const fill = async (): Promise<void> => {
      while (queued < TOTAL) {
        queued += chunk.length;
        if (!up.socket.write(chunk)) {
          const drained = await Promise.race([
            new Promise<boolean>((r) => up.socket.once('drain', () => r(true))),
            sleep(500).then(() => false),
          ]);
          if (!drained) return; // stalled
        }
      }
    };
    await fill();
    await expectSplicedTunnels(pid, pipes, 1);
    const accepted = up.socket.bytesWritten - up.socket.writableLength;
    assert.ok(accepted < BOUND, `the proxy took ${accepted} bytes of a stalled upload`);
    origin.resumeSinks();
    while (queued < TOTAL) {
      queued += chunk.length;
      if (!up.socket.write(chunk)) await new Promise((r) => up.socket.once('drain', r));
    }
    up.socket.end();
    await up.ended;
    assert.ok(up.text().endsWith(`received ${TOTAL}`), up.text().slice(-40));
    await up.closed;

    // Download from /source, into a client that does not read yet.
    const down = openTunnel(port, `/source/${TOTAL}`, '', false);
    await waitFor('the download to start', () => down.bytes() > 0);
    down.socket.pause();
    await waitFor('the download to stall', async () => {
      const before = origin.sourceSent();
      await sleep(300);
      return origin.sourceSent() === before;
    });
    await expectSplicedTunnels(pid, pipes, 1);
    assert.ok(
      origin.sourceSent() < BOUND,
      `the proxy took ${origin.sourceSent()} bytes of a stalled download`,
    );
    down.socket.resume();
    await down.ended;
    assert.equal(down.bodyBytes(), TOTAL);
    down.socket.end();
    await down.closed;

    await waitFor(
      'no tunnel',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
    assert.ok((await stat(legate, 'cluster.o.upstream_cx_tx_bytes_total')) >= TOTAL, 'upload bytes counted');
    assert.ok(
      (await stat(legate, 'cluster.o.upstream_cx_rx_bytes_total')) >= TOTAL,
      'download bytes counted',
    );
    assert.equal(await settledFdCount(pid), fds, 'no fd left behind');
    assert.equal(pipeFdCount(pid), pipes, 'no pipe left behind');
  });
});

test('a spliced tunnel’s bytes and duration reach the access log, its end the upgrade gauge', async () => {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-splice-')), 'access.log');
  const hcmExtra = fileAccessLogYaml(
    logFile,
    '%REQ(:PATH)% %RESPONSE_CODE% %BYTES_RECEIVED% %BYTES_SENT% %RESPONSE_FLAGS% %DURATION%',
  );
  await withSpliceLegate(hcmExtra, async (legate, port, _origin, { pipes }) => {
    const tunnel = openTunnel(port, '/echo', '', false);
    await waitFor('the 101', () => tunnel.bytes() > 0);
    const payload = Buffer.alloc(3 * MiB + 5, 0x62);
    tunnel.socket.write(payload);
    await waitFor('the echo', () => tunnel.bodyBytes() === payload.length);
    await expectSplicedTunnels(legate.proc.pid!, pipes, 1);
    await sleep(300);
    assert.equal(await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active'), 1);
    tunnel.socket.end();
    await tunnel.ended;
    await tunnel.closed;
    await waitFor(
      'the tunnel to end',
      async () => (await stat(legate, 'http.ingress_http.downstream_cx_upgrades_active')) === 0,
    );
    await legate.stop();
    const line = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`/echo 101 ${payload.length} `));
    assert.ok(line !== undefined, fs.readFileSync(logFile, 'utf8'));
    // Sent: the echo and `bye` (the 101's head is not body).
    const m = /^\/echo 101 \d+ (\d+) - (\d+)$/.exec(line);
    assert.ok(m !== null, line);
    assert.equal(Number(m[1]), payload.length + 'bye'.length);
    assert.ok(Number(m[2]) >= 300, `duration ${m[2]} ms`);
  });
});

test('drain: an open spliced tunnel keeps working and holds the process until it ends, then the process exits', async () => {
  await withSpliceLegate(
    '',
    async (legate, port, _origin, { pipes }) => {
      const tunnel = openTunnel(port, '/echo');
      tunnel.socket.write(SPLICE_FILL + 'before;');
      await waitFor('the echo', () => tunnel.text().endsWith('before;'));
      await expectSplicedTunnels(legate.proc.pid!, pipes, 1);
      const drainStarted = Date.now();
      legate.proc.kill('SIGTERM');
      await sleep(300);
      tunnel.socket.write('during;');
      await waitFor('the echo during the drain', () => tunnel.text().endsWith('during;'));
      assert.equal(legate.proc.exitCode, null, 'the open tunnel holds the process');
      tunnel.socket.end();
      await tunnel.ended;
      assert.ok(tunnel.text().endsWith('during;bye'));
      assert.equal(await legate.exited, 0);
      const took = Date.now() - drainStarted;
      assert.ok(took < 5000, `the process exited ${took} ms into a 20 s drain, once the tunnel ended`);
    },
    { args: ['--drain-time-s', '20'] },
  );
});

test('the relay refuses once half the fd limit is in use: later tunnels stay in JS and work, and new connections are still served', async (t) => {
  const prlimit = requireTool(t, 'prlimit');
  if (prlimit === null) return;
  await withSpliceLegate('', async (legate, port, origin, { fds, pipes }) => {
    const pid = legate.proc.pid!;
    // Half the limit 12 fds above what is open now: a tunnel takes 2 sockets, its relay 6 more
    // (the duplicates first), so the first two tunnels fit below it and the third's do not.
    execFileSync(prlimit, ['--pid', String(pid), `--nofile=${2 * (fds + 12)}:`]);
    const tunnels: Tunnel[] = [];
    for (let i = 0; i < 5; i++) {
      const tunnel = openTunnel(port, '/echo', SPLICE_FILL + `#${i}`);
      await waitFor(`tunnel ${i} echoed`, () => tunnel.text().endsWith(`#${i}`));
      await sleep(50); // the offer to the relay runs in the next turn
      tunnels.push(tunnel);
    }
    const spliced = (pipeFdCount(pid) - pipes) / PIPE_FDS_PER_SPLICED_TUNNEL;
    if (tunnelsSpliced()) assert.equal(spliced, 2, 'two tunnels on the relay, three in JS');
    else assert.equal(spliced, 0);
    for (let i = 0; i < tunnels.length; i++) {
      tunnels[i]!.socket.write(`again${i}`);
      await waitFor(`tunnel ${i} still echoing`, () => tunnels[i]!.text().endsWith(`again${i}`));
    }
    const plain = await request(port, { path: '/plain' });
    assert.equal(plain.status, 200);
    for (const tunnel of tunnels) tunnel.socket.end();
    await Promise.all(tunnels.map((tunnel) => tunnel.closed));
    await waitFor('the origin’s sockets to close', () => origin.openSockets === 0);
  });
});
