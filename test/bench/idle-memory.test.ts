import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { measureIdleMemory } from '../../bench/runner/idle-memory';
import { freePort, startProcess, stopProcess, waitForPort } from '../../bench/runner/processes';
import { parseScenario } from '../../bench/runner/scenario';

const scenario = (connections: number) =>
  parseScenario(
    {
      name: 'idle',
      title: 'idle',
      kind: 'idle-memory',
      origin: { type: 'nginx-static' },
      systems: ['legate'],
      baseline: 'legate',
      load: { connections },
    },
    'idle.json',
  );

/**
 * A keep-alive server that holds `perConnectionKiB` of its own memory for every open connection,
 * touched so it is resident: the measurement must find about that much per connection.
 */
const SERVER = `
const http = require('node:http');
const held = new Map();
const server = http.createServer((req, res) => res.end('ok'));
server.keepAliveTimeout = 600000;
server.on('connection', (s) => {
  held.set(s, Buffer.alloc(PER_KIB * 1024, 1));
  s.on('close', () => held.delete(s));
});
server.listen(Number(process.argv[1]), '127.0.0.1');
`;

test('idle-memory measures the RSS a system holds per idle connection, once it has settled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'legate-idle-'));
  const port = await freePort();
  const server = startProcess(
    'idle-server',
    process.execPath,
    ['-e', SERVER.replace('PER_KIB', '16'), String(port)],
    join(dir, 'server.log'),
  );
  try {
    await waitForPort(server, port);
    const r = await measureIdleMemory(scenario(400), 'idle-server', port, server.pid, 1);
    assert.equal(r.ok, true, r.error);
    assert.equal(r.unit, 'KiB/conn');
    // 16 KiB held per connection plus Node's own socket cost; never less than what is held.
    assert.ok(r.throughput >= 14 && r.throughput < 60, `measured ${r.throughput} KiB per connection`);
  } finally {
    await stopProcess(server);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idle-memory reports a system that refuses connections as a failed run, with the reason', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const r = await measureIdleMemory(scenario(10), 'nothing', port, process.pid, 1);
  assert.equal(r.ok, false);
  assert.match(r.error ?? '', /opening 10 connections: .*ECONNREFUSED/);
});
