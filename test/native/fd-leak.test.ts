import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { listenOnFd, openSharedListenSocket } from '../../src/native';
import { requireAddon } from './fixtures/harness';

const RAW_CYCLES = 1_000;
const SERVER_CYCLES = 50;

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

test(`${RAW_CYCLES} listen/dup/close cycles leave the fd count at its baseline`, (t) => {
  const native = requireAddon(t);
  if (native === null) return;
  const baseline = openFdCount();
  const probe = native.listenReusePort('127.0.0.1', 0, 1);
  const probeCopy = native.dup(probe);
  assert.equal(openFdCount(), baseline + 2, 'the count sees open fds');
  native.close(probeCopy);
  native.close(probe);

  for (let i = 0; i < RAW_CYCLES; i++) {
    const fd = native.listenReusePort('127.0.0.1', 0, 1);
    const copy = native.dup(fd);
    native.close(copy);
    native.close(fd);
  }
  assert.equal(openFdCount(), baseline);
});

test(`${SERVER_CYCLES} listenOnFd/server.close cycles leave the fd count at its baseline`, async (t) => {
  if (requireAddon(t) === null) return;
  const baseline = openFdCount();
  for (let i = 0; i < SERVER_CYCLES; i++) {
    const shared = openSharedListenSocket('127.0.0.1', 0, 16)!;
    const server = net.createServer();
    await new Promise<void>((resolve, reject) =>
      listenOnFd(server, shared.fd, (err) => (err ? reject(err) : resolve())),
    );
    assert.equal((server.address() as net.AddressInfo).port, shared.port);
    await new Promise((resolve) => server.close(resolve));
  }
  assert.equal(openFdCount(), baseline);
});
