import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ADDON_PATH, loadNative, nativeStatus, probeNative } from '../../src/native';
import { requireAddon } from './fixtures/harness';

const NATIVE_INDEX = path.join(__dirname, '..', '..', 'src', 'native', 'index.js');

test('the built addon loads once per thread and reports itself active', (t) => {
  if (requireAddon(t) === null) return;
  const status = nativeStatus();
  assert.equal(status.active, true, status.reason);
  assert.match(status.reason, /^loaded /);
  assert.ok(status.reason.includes(DEFAULT_ADDON_PATH));
  assert.ok(loadNative());
  assert.equal(loadNative(), loadNative());
});

test('LEGATE_NATIVE=0 disables the addon and every native helper', () => {
  const script = `
    const n = require(${JSON.stringify(NATIVE_INDEX)});
    process.stdout.write(JSON.stringify({
      loaded: n.loadNative() !== null,
      status: n.nativeStatus(),
      shared: n.openSharedListenSocket('127.0.0.1', 0, 16),
    }));`;
  const child = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, LEGATE_NATIVE: '0' },
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), {
    loaded: false,
    status: { active: false, reason: 'disabled by LEGATE_NATIVE=0' },
    shared: null,
  });
});

test('a missing or broken addon yields null with the reason, never a throw', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'legate-native-'));
  try {
    const missing = probeNative(path.join(dir, 'absent.node'), {});
    assert.equal(missing.bindings, null);
    assert.equal(missing.status.active, false);
    assert.match(missing.status.reason, /^not built \(.*absent\.node is missing/);

    const garbage = path.join(dir, 'garbage.node');
    writeFileSync(garbage, 'not an ELF file');
    const broken = probeNative(garbage, {});
    assert.equal(broken.bindings, null);
    assert.match(broken.status.reason, /^failed to load .*garbage\.node: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('probeNative honours LEGATE_NATIVE=0 even when the addon exists', (t) => {
  if (requireAddon(t) === null) return;
  const probe = probeNative(DEFAULT_ADDON_PATH, { LEGATE_NATIVE: '0' });
  assert.deepEqual(probe, {
    bindings: null,
    status: { active: false, reason: 'disabled by LEGATE_NATIVE=0' },
  });
  assert.ok(probeNative(DEFAULT_ADDON_PATH, {}).bindings, 'and loads it otherwise');
});
