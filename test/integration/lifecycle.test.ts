/**
 * Process lifecycle: the seed config unchanged, the CLI's validate mode and short form, worker
 * restart after a crash, and graceful drain on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { addonActive } from '../l4/fixtures';
import {
  REPO_ROOT,
  admin,
  startLegate,
  startLegateArgs,
  startOrigin,
  request,
  runLegate,
  catchAllYaml,
} from './harness';

test('the seed config runs unchanged (ports 10000/9901 → 127.0.0.1:12345)', async () => {
  const origin = await startOrigin(undefined, 12345);
  const legate = await startLegateArgs(['-c', path.join(REPO_ROOT, 'examples', 'seed-envoy.yaml')]);
  try {
    const r = await request(10000, { path: '/seed' });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `origin 12345 GET /seed\n`);
    const ready = await request(9901, { path: '/ready' });
    assert.equal(ready.status, 200);
    assert.equal(ready.body.toString(), 'LIVE\n');
    const info = JSON.parse((await request(9901, { path: '/server_info' })).body.toString());
    assert.equal(info.state, 'LIVE');
    // Without the native addon Legate serves from one worker (and says so).
    // Without the addon (LEGATE_NATIVE=0, or no C toolchain to build it) Legate runs one worker.
    assert.equal(info.command_line_options.concurrency, addonActive() ? 2 : 1);
    const dump = JSON.parse((await request(9901, { path: '/config_dump' })).body.toString());
    assert.equal(dump.configs[0]['@type'], 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump');
    assert.match(legate.output(), /access_log_path/);
  } finally {
    await legate.stop();
    await origin.close();
  }
});

test('--mode validate: OK for a good config, file:line:col and a suggestion for a typo', async () => {
  const good = await runLegate([
    '--mode',
    'validate',
    '-c',
    path.join(REPO_ROOT, 'examples', 'seed-envoy.yaml'),
  ]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /OK/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-validate-'));
  const bad = path.join(dir, 'bad.yaml');
  const seed = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'seed-envoy.yaml'), 'utf8');
  fs.writeFileSync(bad, seed.replace('lb_policy: ROUND_ROBIN', 'lb_polcy: ROUND_ROBIN'));
  const r = await runLegate(['--mode', 'validate', '-c', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.yaml:\d+:\d+/);
  assert.match(r.stderr, /static_resources\.clusters\[0\]\.lb_polcy/);
  assert.match(r.stderr, /did you mean 'lb_policy'\?/);
});

test('unknown CLI flags get a suggestion', async () => {
  const r = await runLegate(['--concurency', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /did you mean '--concurrency'\?/);
});

test('--version says whether the native addon is active', async () => {
  const on = await runLegate(['--version']);
  assert.equal(on.code, 0);
  assert.match(on.stdout, /^legate version \d+\.\d+\.\d+/);
  const off = await runLegate(['--version'], { LEGATE_NATIVE: '0' });
  assert.match(off.stdout, /native addon inactive/);
});

test('short form: --listen/--upstream proxies without YAML; --print-config shows the Envoy YAML', async () => {
  const origin = await startOrigin();
  const printed = await runLegate([
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    `127.0.0.1:${origin.port}`,
    '--print-config',
  ]);
  assert.equal(printed.code, 0);
  assert.match(printed.stdout, /envoy\.filters\.network\.http_connection_manager/);
  assert.match(printed.stdout, new RegExp(`port_value: ${origin.port}`));
  const legate = await startLegateArgs([
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    `127.0.0.1:${origin.port}`,
    '--lb',
    'least_request',
  ]);
  try {
    const r = await request(legate.ports.get('listener_0')!, { path: '/short' });
    assert.equal(r.status, 200);
    assert.equal(origin.requests.at(-1)!.url, '/short');
  } finally {
    await legate.stop();
    await origin.close();
  }
});

test('a worker that crashes is restarted and the proxy keeps serving', async () => {
  const origin = await startOrigin();
  const legate = await startLegate(catchAllYaml([origin.port]), { env: { LEGATE_TEST_HOOKS: '1' } });
  const port = legate.ports.get('proxy')!;
  try {
    const crash = await admin(legate, '/debug/crash_worker?index=0', 'POST');
    assert.equal(crash.status, 200);
    // Keep sending while the worker is replaced (connections that hit the dying worker may fail).
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !/worker 0 exited .*restarting/.test(legate.output())) {
      await request(port, { path: '/during' }).catch(() => null);
    }
    assert.match(legate.output(), /worker 0 exited .*restarting/);
    // The replacement starts listening when it is ready (slower on a loaded machine; with one
    // worker, LEGATE_NATIVE=0, nothing listens until then): wait for a first answer, bounded.
    const readyBy = Date.now() + 10_000;
    while ((await request(port, { path: '/back' }).catch(() => null)) === null) {
      assert.ok(Date.now() < readyBy, 'the restarted worker never served');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Both workers serve again: every request succeeds, whichever worker the kernel picks.
    for (let i = 0; i < 20; i++) assert.equal((await request(port, { path: `/after/${i}` })).status, 200);
  } finally {
    await legate.stop();
    await origin.close();
  }
});

test('SIGTERM drains: in-flight requests finish, then exit 0', async () => {
  const origin = await startOrigin((_req, res) => setTimeout(() => res.end('finished'), 800));
  const legate = await startLegate(catchAllYaml([origin.port]));
  const port = legate.ports.get('proxy')!;
  try {
    const inflight = Promise.all(
      Array.from({ length: 5 }, () => request(port, { path: '/slow', agent: new http.Agent() })),
    );
    await new Promise((r) => setTimeout(r, 200));
    const code = legate.stop('SIGTERM');
    const results = await inflight;
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'finished');
    }
    assert.equal(await code, 0);
  } finally {
    await legate.stop('SIGKILL');
    await origin.close();
  }
});
