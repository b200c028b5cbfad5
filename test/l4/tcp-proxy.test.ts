/**
 * tcp_proxy end to end: the real proxy (2 workers) between real clients and upstreams on
 * 127.0.0.1. Runs on whichever path the environment gives: the native engine by default with the
 * addon, the splice relay under LEGATE_ENGINE=js, the JS relay under LEGATE_NATIVE=0 (the startup
 * log line says which, and is asserted).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { startLegate, stat, type LegateProcess } from '../integration/harness';
import {
  collect,
  connect,
  defaultL4Path,
  refusedPort,
  startEcho,
  startUpstream,
  tcpProxyYaml,
  within,
  type Upstream,
} from './fixtures';

const EXPECTED_PATH = defaultL4Path();

let echo: Upstream;
let proxy: LegateProcess;
let port: number;

before(async () => {
  echo = await startEcho();
  proxy = await startLegate(tcpProxyYaml({ upstreamPorts: [echo.port] }));
  port = proxy.ports.get('tcp')!;
});

after(async () => {
  await proxy?.stop();
  await echo?.close();
});

test(`the startup log names the path this environment provides (${EXPECTED_PATH.name})`, () => {
  assert.match(proxy.output(), new RegExp(`tcp_proxy 'l4' ${EXPECTED_PATH.log}\\b`));
});

test('bytes round-trip through an echo upstream, and the stats count them', async () => {
  const before = await stat(proxy, 'tcp.l4.downstream_cx_total');
  const socket = await connect(port);
  const outcome = collect(socket);
  socket.end('hello legate');
  const { data, ended, errorCode } = await outcome;
  assert.equal(data.toString(), 'hello legate');
  assert.equal(ended, true);
  assert.equal(errorCode, null);
  assert.equal(await stat(proxy, 'tcp.l4.downstream_cx_total'), before + 1);
  // Byte counts are published when a session ends.
  assert.ok((await stat(proxy, 'tcp.l4.downstream_cx_rx_bytes_total')) >= 12);
  assert.ok((await stat(proxy, 'tcp.l4.downstream_cx_tx_bytes_total')) >= 12);
  assert.ok((await stat(proxy, 'cluster.up.upstream_cx_total')) >= 1);
});

test('1,000 concurrent connections each get their own bytes back', { timeout: 60_000 }, async () => {
  const sockets = await Promise.all(Array.from({ length: 1000 }, () => connect(port)));
  // Every connection is open at once before any byte flows.
  const outcomes = sockets.map((s) => collect(s, 'concurrent echo', 30_000));
  sockets.forEach((s, i) => s.end(`connection ${i} `.repeat(50)));
  const results = await Promise.all(outcomes);
  results.forEach((r, i) => {
    assert.equal(r.errorCode, null, `connection ${i}`);
    assert.equal(r.data.toString(), `connection ${i} `.repeat(50), `connection ${i}`);
  });
});

test('client FIN reaches the upstream while the upstream keeps sending', async () => {
  const upstream = await startUpstream((s) => {
    s.on('data', () => {});
    // Only after the client's FIN: prove the reverse direction still flows.
    s.on('end', () => {
      s.write('still ');
      setTimeout(() => s.end('flowing'), 50);
    });
  });
  const p = await startLegate(tcpProxyYaml({ upstreamPorts: [upstream.port] }));
  try {
    const socket = await connect(p.ports.get('tcp')!);
    const outcome = collect(socket);
    socket.end('ping');
    const { data, ended, errorCode } = await outcome;
    assert.equal(data.toString(), 'still flowing');
    assert.equal(ended, true);
    assert.equal(errorCode, null);
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test('upstream FIN reaches the client while the client keeps sending', async () => {
  const received: Buffer[] = [];
  let upstreamSawEnd!: () => void;
  const sawEnd = new Promise<void>((resolve) => (upstreamSawEnd = resolve));
  const upstream = await startUpstream((s) => {
    s.end('bye from upstream');
    s.on('data', (c: Buffer) => received.push(c));
    s.on('end', upstreamSawEnd);
  });
  const p = await startLegate(tcpProxyYaml({ upstreamPorts: [upstream.port] }));
  try {
    const socket = await connect(p.ports.get('tcp')!);
    const outcome = collect(socket);
    await within(once(socket, 'end'), 'upstream FIN at the client');
    socket.write('after your FIN, ');
    socket.end('still here');
    await within(sawEnd, 'client FIN at the upstream');
    assert.equal(Buffer.concat(received).toString(), 'after your FIN, still here');
    const { data, errorCode } = await outcome;
    assert.equal(data.toString(), 'bye from upstream');
    assert.equal(errorCode, null);
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test('an upstream reset resets the client', async () => {
  const upstream = await startUpstream((s) => s.once('data', () => s.resetAndDestroy()));
  const p = await startLegate(tcpProxyYaml({ upstreamPorts: [upstream.port] }));
  try {
    const socket = await connect(p.ports.get('tcp')!);
    const outcome = collect(socket);
    socket.write('provoke');
    assert.equal((await outcome).errorCode, 'ECONNRESET');
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test('a client reset resets the upstream', async () => {
  let upstreamOutcome!: Promise<string | null>;
  const upstream = await startUpstream((s) => {
    upstreamOutcome = new Promise((resolve) => {
      let code: string | null = null;
      s.on('error', (err: NodeJS.ErrnoException) => (code = err.code ?? err.message));
      s.once('close', () => resolve(code));
    });
    s.write('hello'); // the client resets once it sees this
  });
  const p = await startLegate(tcpProxyYaml({ upstreamPorts: [upstream.port] }));
  try {
    const socket = await connect(p.ports.get('tcp')!);
    await within(once(socket, 'data'), 'first upstream bytes');
    socket.resetAndDestroy();
    assert.equal(await within(upstreamOutcome, 'upstream close'), 'ECONNRESET');
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test('a refused upstream closes the client and counts upstream_cx_connect_fail', async () => {
  const p = await startLegate(
    tcpProxyYaml({ upstreamPorts: [await refusedPort()], tcpProxyExtra: 'max_connect_attempts: 3' }),
  );
  try {
    const socket = await connect(p.ports.get('tcp')!, false);
    const { data } = await collect(socket);
    assert.equal(data.length, 0);
    assert.equal(await stat(p, 'cluster.up.upstream_cx_connect_fail'), 3);
    assert.equal(await stat(p, 'cluster.up.upstream_cx_active'), 0);
  } finally {
    await p.stop();
  }
});

test('a second connect attempt goes to another host', async () => {
  const up = await startEcho();
  const p = await startLegate(
    tcpProxyYaml({
      upstreamPorts: [await refusedPort(), up.port],
      tcpProxyExtra: 'max_connect_attempts: 2',
    }),
  );
  try {
    // Round robin: whichever host comes first, two attempts reach the live one.
    for (let i = 0; i < 4; i++) {
      const socket = await connect(p.ports.get('tcp')!);
      const outcome = collect(socket);
      socket.end(`try ${i}`);
      assert.equal((await outcome).data.toString(), `try ${i}`);
    }
    assert.ok((await stat(p, 'cluster.up.upstream_cx_connect_fail')) >= 1);
  } finally {
    await p.stop();
    await up.close();
  }
});

test('idle_timeout closes a silent connection and counts idle_timeout', async () => {
  const p = await startLegate(
    tcpProxyYaml({ upstreamPorts: [echo.port], tcpProxyExtra: 'idle_timeout: 0.3s' }),
  );
  try {
    const socket = await connect(p.ports.get('tcp')!, false);
    socket.write('one exchange, then silence');
    const started = Date.now();
    const { data, errorCode } = await collect(socket, 'idle close', 5_000);
    const elapsed = Date.now() - started;
    assert.equal(data.toString(), 'one exchange, then silence');
    assert.equal(errorCode, null);
    assert.ok(elapsed >= 250 && elapsed < 2_000, `closed after ${elapsed} ms`);
    assert.equal(await stat(p, 'tcp.l4.idle_timeout'), 1);
  } finally {
    await p.stop();
  }
});

test('max_downstream_connection_duration closes a busy connection', async () => {
  const p = await startLegate(
    tcpProxyYaml({ upstreamPorts: [echo.port], tcpProxyExtra: 'max_downstream_connection_duration: 0.5s' }),
  );
  try {
    const socket = await connect(p.ports.get('tcp')!);
    const outcome = collect(socket, 'duration close', 5_000);
    const ticker = setInterval(() => socket.writable && socket.write('tick'), 20);
    const started = Date.now();
    await outcome;
    clearInterval(ticker);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 400 && elapsed < 2_500, `closed after ${elapsed} ms`);
    assert.equal(await stat(p, 'tcp.l4.max_downstream_connection_duration'), 1);
  } finally {
    await p.stop();
  }
});
