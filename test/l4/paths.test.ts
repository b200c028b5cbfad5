/**
 * tcp_proxy semantics that every path must share (the native engine, the splice relay on Node
 * sockets, the JS relay), each path selected explicitly: which path serves a listener and where
 * that shows, the circuit breaker's max_connections, byte counts published while a session lives,
 * bounded buffering towards an upstream that stops reading, and no fd left behind by refused
 * connects (with retries) and client resets.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as net from 'node:net';
import { test } from 'node:test';
import { requireTool } from '../support/system-tools';
import { admin, startLegate, stat, withLegate } from '../integration/harness';
import {
  collect,
  connect,
  l4Paths,
  refusedPort,
  settledFdCount,
  startEcho,
  startUpstream,
  tcpProxyYaml,
  within,
  type L4Path,
} from './fixtures';

const STDOUT_LOG = `access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `ok` holds (bounded), returning the last value. */
async function until(read: () => Promise<number>, ok: (v: number) => boolean, what: string): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${v}`);
    await sleep(50);
  }
}

/** The largest buffer the kernel autotunes a TCP socket to (`tcp_rmem` / `tcp_wmem`'s max). */
function tcpBufferMax(name: 'tcp_rmem' | 'tcp_wmem'): number {
  return Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
}

function expectedDataPath(path: L4Path, accessLogged: boolean): 'native' | 'js' {
  return path.name === 'engine' && !accessLogged ? 'native' : 'js';
}

for (const path of l4Paths()) {
  test(`${path.name} path: /listeners and /server_info name the data path; an access-logged tcp_proxy stays on Node sockets`, async () => {
    const echo = await startEcho();
    try {
      for (const accessLogged of [false, true]) {
        const yaml = tcpProxyYaml({
          upstreamPorts: [echo.port],
          tcpProxyExtra: accessLogged ? STDOUT_LOG : '',
        });
        await withLegate(yaml, { env: path.env }, async (lp) => {
          const expected = expectedDataPath(path, accessLogged);
          const info = JSON.parse((await admin(lp, '/server_info')).body.toString());
          assert.deepEqual(info.legate.listener_data_paths, { tcp: expected });
          const listeners = JSON.parse((await admin(lp, '/listeners?format=json')).body.toString());
          assert.equal(listeners.listener_statuses[0].legate_data_path, expected);
          if (accessLogged && path.name === 'engine')
            assert.match(lp.output(), /not on the native engine: tcp_proxy access_log/);
          const socket = await connect(lp.ports.get('tcp')!);
          const outcome = collect(socket);
          socket.end('path');
          assert.equal((await outcome).data.toString(), 'path');
        });
      }
    } finally {
      await echo.close();
    }
  });

  test(`${path.name} path: max_connections refuses the second session and counts upstream_cx_overflow`, async () => {
    const echo = await startEcho();
    const proxy = await startLegate(
      tcpProxyYaml({
        upstreamPorts: [echo.port],
        clusterExtra: 'circuit_breakers: { thresholds: [{ max_connections: 1 }] }',
      }),
      { env: path.env, concurrency: 1 },
    );
    try {
      const port = proxy.ports.get('tcp')!;
      const first = await connect(port);
      const firstOutcome = collect(first);
      first.write('held');
      await until(
        () => stat(proxy, 'cluster.up.upstream_cx_active'),
        (v) => v === 1,
        'first upstream',
      );
      // Not half-open: the proxy's FIN closes it.
      const refused = await collect(await connect(port, false));
      assert.equal(refused.data.length, 0);
      assert.equal(await stat(proxy, 'cluster.up.upstream_cx_overflow'), 1);
      assert.equal(await stat(proxy, 'cluster.up.upstream_cx_total'), 1);
      first.end();
      assert.equal((await firstOutcome).data.toString(), 'held');
      await until(
        () => stat(proxy, 'listener.127.0.0.1_0.downstream_cx_active'),
        (v) => v === 0,
        'sessions end',
      );
      assert.equal(await stat(proxy, 'cluster.up.upstream_cx_active'), 0);
      assert.equal(await stat(proxy, 'listener.127.0.0.1_0.downstream_cx_total'), 2);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  test(`${path.name} path: a live session's bytes reach the stats within about a second`, async () => {
    const echo = await startEcho();
    const proxy = await startLegate(tcpProxyYaml({ upstreamPorts: [echo.port] }), { env: path.env });
    try {
      const socket = await connect(proxy.ports.get('tcp')!);
      const outcome = collect(socket);
      socket.write('x'.repeat(1000));
      // The session is still open: the count comes from the periodic report, not from its end.
      await until(
        () => stat(proxy, 'tcp.l4.downstream_cx_rx_bytes_total'),
        (v) => v === 1000,
        'rx bytes',
      );
      await until(
        () => stat(proxy, 'cluster.up.upstream_cx_rx_bytes_total'),
        (v) => v === 1000,
        'upstream rx',
      );
      assert.equal(await stat(proxy, 'tcp.l4.downstream_cx_tx_bytes_total'), 1000);
      socket.end();
      assert.equal((await outcome).data.length, 1000);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  test(
    `${path.name} path: an upstream that stops reading holds the client back, counted as paused reading; every byte arrives once it reads again`,
    { timeout: 60_000 },
    async () => {
      // What the kernel's socket buffers may hold between the client and the paused reader (both
      // sockets of each hop autotune up to these), plus a relay's own buffer (at most 1 MiB).
      const maxInFlight = 2 * tcpBufferMax('tcp_rmem') + 2 * tcpBufferMax('tcp_wmem') + 2 * 1024 * 1024;
      const TOTAL = 2 * maxInFlight;
      let paused: net.Socket | null = null;
      const received = createHash('sha256');
      let receivedBytes = 0;
      const upstream = await startUpstream((socket) => {
        socket.pause();
        paused = socket;
        socket.on('data', (c: Buffer) => {
          received.update(c);
          receivedBytes += c.length;
        });
      });
      const proxy = await startLegate(tcpProxyYaml({ upstreamPorts: [upstream.port] }), { env: path.env });
      try {
        const client = await connect(proxy.ports.get('tcp')!);
        const sent = createHash('sha256');
        // Small writes, each waited for: the proxy reads short pieces (its copy mode) until it stalls.
        const chunk = Buffer.alloc(16 * 1024);
        let written = 0;
        let stalledAt = -1;
        const writeAll = (async () => {
          while (written < TOTAL) {
            chunk.fill(written & 0xff);
            sent.update(chunk);
            await new Promise<void>((resolve, reject) =>
              client.write(chunk, (err) => (err ? reject(err) : resolve())),
            );
            written += chunk.length;
          }
        })();
        // The writes stop completing: nothing reads past the proxy's bounded buffers.
        let last = -1;
        for (let i = 0; i < 100 && stalledAt < 0; i++) {
          await sleep(250);
          if (written === last) stalledAt = written;
          last = written;
        }
        assert.ok(stalledAt > 0, `the client never stalled (${written} bytes written)`);
        assert.ok(stalledAt < maxInFlight, `${stalledAt} bytes were taken while nothing read`);
        const flow = (what: 'paused' | 'resumed'): Promise<number> =>
          stat(proxy, `tcp.l4.downstream_flow_control_${what}_reading_total`);
        await until(
          () => flow('paused'),
          (v) => v >= 1,
          'downstream_flow_control_paused_reading_total',
        );
        await until(
          async () => (paused === null ? 0 : 1),
          (v) => v === 1,
          'upstream connection',
        );
        paused!.resume();
        await within(writeAll, 'the rest of the upload', 30_000);
        client.end();
        await until(
          async () => receivedBytes,
          (v) => v === TOTAL,
          'every byte at the upstream',
        );
        assert.equal(received.digest('hex'), sent.digest('hex'));
        client.destroy();
        // Every pause ended in a resume, once the session published its last counts.
        await until(
          () => flow('resumed'),
          (v) => v >= 1,
          'downstream_flow_control_resumed_reading_total',
        );
        const stillPaused = await until(
          async () => (await flow('paused')) - (await flow('resumed')),
          (v) => v === 0,
          'as many resumes as pauses',
        );
        assert.equal(stillPaused, 0);
      } finally {
        await proxy.stop();
        await upstream.close();
      }
    },
  );

  test(
    `${path.name} path: 300 refused connects (2 attempts each) and 300 client resets leave no fd behind`,
    { timeout: 60_000 },
    async () => {
      const echo = await startEcho();
      const refused = await refusedPort();
      const yaml = tcpProxyYaml({ upstreamPorts: [echo.port] })
        .replace(
          'static_resources:\n  listeners:\n',
          `static_resources:\n  listeners:\n  - name: refused
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: refused
          cluster: nowhere
          max_connect_attempts: 2
`,
        )
        .replace(
          '  clusters:\n',
          `  clusters:
  - name: nowhere
    connect_timeout: 5s
    type: STATIC
    load_assignment:
      cluster_name: nowhere
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${refused} } } }
`,
        );
      const proxy = await startLegate(yaml, { env: path.env });
      try {
        const pid = proxy.proc.pid!;
        const refusedOnce = async (): Promise<void> => {
          const outcome = await collect(await connect(proxy.ports.get('refused')!, false));
          assert.equal(outcome.data.length, 0);
        };
        const resetOnce = async (): Promise<void> => {
          const socket = await connect(proxy.ports.get('tcp')!);
          const outcome = collect(socket);
          socket.write('some bytes');
          await within(new Promise((r) => socket.once('data', r)), 'echo before the reset');
          socket.resetAndDestroy();
          await outcome;
        };
        // Warm up (the engine's timers and pipes, the relay thread), then measure.
        for (let i = 0; i < 10; i++) await Promise.all([refusedOnce(), resetOnce()]);
        const baseline = await settledFdCount(pid);
        for (let lane = 0; lane < 29; lane++)
          await Promise.all(Array.from({ length: 10 }, () => Promise.all([refusedOnce(), resetOnce()])));
        await until(
          () => stat(proxy, 'listener.127.0.0.1_0.downstream_cx_active'),
          (v) => v === 0,
          'sessions end',
        );
        assert.equal(await settledFdCount(pid), baseline);
        assert.equal(await stat(proxy, 'cluster.nowhere.upstream_cx_connect_fail'), 600);
        assert.equal(await stat(proxy, 'cluster.nowhere.upstream_cx_active'), 0);
        assert.equal(await stat(proxy, 'cluster.up.upstream_cx_active'), 0);
        assert.equal(await stat(proxy, 'tcp.refused.downstream_cx_total'), 300);
      } finally {
        await proxy.stop();
        await echo.close();
      }
    },
  );
}

test('splice path: once half the fd limit is in use the relay refuses, and later sessions relay in JS and still work', async (t) => {
  const prlimit = requireTool(t, 'prlimit');
  const splice = l4Paths().find((p) => p.name === 'splice');
  if (prlimit === null || splice === undefined) {
    t.skip('needs prlimit and the addon');
    return;
  }
  const echo = await startEcho();
  try {
    await withLegate(
      tcpProxyYaml({ upstreamPorts: [echo.port] }),
      { concurrency: 1, env: splice.env },
      async (p) => {
        const pid = p.proc.pid!;
        const fds = await settledFdCount(pid);
        // Half the limit 12 fds above what is open now: a session takes 2 sockets, its relay 6 more.
        execFileSync(prlimit, ['--pid', String(pid), `--nofile=${2 * (fds + 12)}:`]);
        const sessions: net.Socket[] = [];
        for (let i = 0; i < 5; i++) {
          const socket = await connect(p.ports.get('tcp')!);
          sessions.push(socket);
          await sleep(50);
        }
        for (let i = 0; i < sessions.length; i++) {
          const socket = sessions[i]!;
          const outcome = collect(socket, `session ${i}`);
          socket.end(`session ${i}`);
          assert.equal((await outcome).data.toString(), `session ${i}`);
        }
      },
    );
  } finally {
    await echo.close();
  }
});
