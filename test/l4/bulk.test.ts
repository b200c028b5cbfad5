/**
 * A 1 GiB upload through each tcp_proxy path (native engine, splice relay, JS relay), with the
 * SHA-256 of what the client sent compared to the one of what the upstream received, and the
 * proxy's fd count across 10,000 connections on each path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLegate, type LegateProcess } from '../integration/harness';
import {
  collect,
  connect,
  hashedUpload,
  l4Paths,
  settledFdCount,
  startEcho,
  startHashSink,
  tcpProxyYaml,
  type L4Path,
} from './fixtures';

const GIB = 1 << 30;
const BULK_TIMEOUT_MS = 180_000;

async function uploadThrough(path: L4Path): Promise<void> {
  const sink = await startHashSink();
  let proxy: LegateProcess | undefined;
  try {
    proxy = await startLegate(tcpProxyYaml({ upstreamPorts: [sink.port] }), { env: path.env });
    assert.match(proxy.output(), new RegExp(`${path.log}\\b`));
    const started = Date.now();
    const { sent, received, receivedBytes } = await hashedUpload(
      proxy.ports.get('tcp')!,
      GIB,
      BULK_TIMEOUT_MS,
    );
    const seconds = (Date.now() - started) / 1000;
    assert.equal(receivedBytes, GIB);
    assert.equal(received, sent);
    process.stdout.write(
      `# ${path.name}: 1 GiB in ${seconds.toFixed(1)} s (hashing at both ends included)\n`,
    );
  } finally {
    await proxy?.stop();
    await sink.close();
  }
}

for (const path of l4Paths()) {
  test(`1 GiB through the ${path.name} path arrives intact`, { timeout: BULK_TIMEOUT_MS }, async () => {
    await uploadThrough(path);
  });
}

for (const path of l4Paths()) {
  test(
    `10,000 connections leave the proxy with the fds it started with (${path.name} path)`,
    { timeout: 120_000 },
    async () => {
      const echo = await startEcho();
      const proxy = await startLegate(tcpProxyYaml({ upstreamPorts: [echo.port] }), { env: path.env });
      try {
        const port = proxy.ports.get('tcp')!;
        const pid = proxy.proc.pid!;
        const exchange = async (i: number): Promise<void> => {
          const socket = await connect(port);
          const outcome = collect(socket);
          socket.end(`#${i}`);
          assert.equal((await outcome).data.toString(), `#${i}`);
        };
        // Warm up (the relay thread, epoll fd, timers), then measure once the closes have landed.
        for (let i = 0; i < 20; i++) await exchange(i);
        const baseline = await settledFdCount(pid);
        const lanes = 50;
        await Promise.all(
          Array.from({ length: lanes }, async (_, lane) => {
            for (let i = lane; i < 10_000; i += lanes) await exchange(i);
          }),
        );
        assert.equal(await settledFdCount(pid), baseline);
      } finally {
        await proxy.stop();
        await echo.close();
      }
    },
  );
}
