import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { failoverVars } from '../../bench/runner/failover';
import { SYSTEMS } from '../../bench/runner/systems';
import { loadScenarios, parseScenario } from '../../bench/runner/scenario';
import { renderTemplate } from '../../bench/runner/templates';

/** The repository root, from dist/test/bench. */
const REPO = join(__dirname, '..', '..', '..');

const BASE = {
  name: 'x',
  title: 'x',
  kind: 'http',
  origin: { type: 'node', delaysMs: [0, 0, 0] },
  systems: ['nginx-1w', 'legate'],
  baseline: 'nginx-1w',
};

test('events are parsed, checked against the origins and sorted by time', () => {
  const sc = parseScenario(
    {
      ...BASE,
      failover: { retries: true },
      events: [
        { at: '15s', action: 'start-origin', origin: 2 },
        { at: '5s', action: 'kill-origin', origin: 2 },
      ],
    },
    'x.json',
  );
  assert.deepEqual(sc.events, [
    { atMs: 5000, action: 'kill-origin', origin: 2 },
    { atMs: 15000, action: 'start-origin', origin: 2 },
  ]);
  assert.deepEqual(sc.failover, { retries: true });
  assert.equal(parseScenario(BASE, 'x.json').failover, null);
});

test('bad events and failover settings are errors naming the file and field', () => {
  const bad = (extra: object, message: RegExp): void =>
    assert.throws(() => parseScenario({ ...BASE, ...extra }, 'x.json'), message);
  bad(
    { events: [{ at: '5s', action: 'kill-origin', origin: 3 }] },
    /x\.json: events\[0\]\.origin must be an index/,
  );
  bad(
    { events: [{ at: '5s', action: 'pause-origin', origin: 0 }] },
    /events\[0\]\.action must be kill-origin/,
  );
  bad({ events: [{ at: 5, action: 'kill-origin', origin: 0 }] }, /events\[0\]\.at must be a duration/);
  bad(
    { origin: { type: 'nginx-static' }, events: [{ at: '5s', action: 'kill-origin', origin: 0 }] },
    /events need node origins/,
  );
  bad({ failover: true }, /'failover' must be an object/);
});

test('the shipped failover scenarios load', () => {
  const names = loadScenarios(join(REPO, 'bench')).map((s) => s.name);
  assert.ok(names.includes('failover-kill-endpoint') && names.includes('failover-kill-endpoint-retries'));
});

test('failover config fragments: empty without failover, retries only when asked', () => {
  for (const v of Object.values(failoverVars(null))) assert.equal(v, '');
  const noRetries = failoverVars({ retries: false });
  const retries = failoverVars({ retries: true });
  assert.match(noRetries.NGINX_LOCATION_EXTRA, /proxy_next_upstream off/);
  assert.match(noRetries.HAPROXY_BACKEND_EXTRA, /retries 0/);
  assert.equal(noRetries.LEGATE_ROUTE_EXTRA, '');
  assert.match(retries.LEGATE_ROUTE_EXTRA, /retry_on: "connect-failure,reset", num_retries: 2/);
  assert.match(retries.HAPROXY_BACKEND_EXTRA, /option redispatch 1/);
  assert.match(renderTemplate('lb_policy: X{{LEGATE_CLUSTER_EXTRA}}', noRetries), /unhealthy_threshold: 2/);
});

test('Legate accepts its failover config, with and without retries (--mode validate)', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'legate-failover-'));
  try {
    for (const retries of [false, true]) {
      const launch = SYSTEMS.get('legate')!.launch({
        benchDir: join(REPO, 'bench'),
        repoRoot: REPO,
        runDir,
        mode: 'http',
        port: 10_000,
        upstreamPorts: [10_001, 10_002, 10_003],
        lb: 'round_robin',
        failover: { retries },
      })!;
      const r = spawnSync(
        process.execPath,
        [join(REPO, 'bin', 'legate.js'), '--mode', 'validate', '-c', launch.configPath!],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(r.status, 0, `retries ${retries}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
});
