import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { failoverVars, type FailoverSpec } from '../../bench/runner/failover';
import { SYSTEMS, type ProxyMode } from '../../bench/runner/systems';
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

test('a template placeholder left without a value is an error, digits in its name too', () => {
  assert.equal(renderTemplate('a {{PORT}} b {{H2_PORT}}', { PORT: 1, H2_PORT: 2 }), 'a 1 b 2');
  assert.throws(
    () => renderTemplate('{{H2_SERVERS}}', { PORT: 1 }),
    /placeholder \{\{H2_SERVERS\}\} has no value/,
  );
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

/** Writes the `legate` system's config for `mode` (and `failover`) and checks it with --mode validate. */
function assertLegateConfigValid(
  mode: ProxyMode,
  failover: FailoverSpec | null,
  upstreamPorts: number[],
): void {
  const runDir = mkdtempSync(join(tmpdir(), 'legate-bench-config-'));
  try {
    const launch = SYSTEMS.get('legate')!.launch({
      benchDir: join(REPO, 'bench'),
      repoRoot: REPO,
      runDir,
      mode,
      port: 10_000,
      upstreamPorts,
      lb: 'round_robin',
      failover,
    })!;
    const r = spawnSync(
      process.execPath,
      [join(REPO, 'bin', 'legate.js'), '--mode', 'validate', '-c', launch.configPath!],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(r.status, 0, `${mode} ${JSON.stringify(failover)}: ${r.stdout}${r.stderr}`);
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

test('Legate accepts its failover config, with and without retries (--mode validate)', () => {
  for (const retries of [false, true]) assertLegateConfigValid('http', { retries }, [10_001, 10_002, 10_003]);
});

test('HTTP/2 and gRPC scenarios: h2load load fields, and systems without the mode are refused', () => {
  const h2 = parseScenario(
    {
      ...BASE,
      origin: { type: 'grpc-node' },
      proxyMode: 'grpc',
      systems: ['direct', 'legate'],
      baseline: 'direct',
      load: { generator: 'h2load', streams: 10, grpcMessageBytes: 13 },
    },
    'x.json',
  );
  assert.deepEqual(
    [h2.proxyMode, h2.load.generator, h2.load.streams, h2.load.grpcMessageBytes],
    ['grpc', 'h2load', 10, 13],
  );
  assert.throws(
    () =>
      parseScenario(
        { ...BASE, proxyMode: 'h2', systems: ['direct', 'legate'], baseline: 'legate' },
        'x.json',
      ),
    /system 'direct' has no h2 mode/,
  );
  assert.throws(
    () =>
      parseScenario(
        { ...BASE, proxyMode: 'grpc', systems: ['legate-uws'], baseline: 'legate-uws' },
        'x.json',
      ),
    /system 'legate-uws' has no grpc mode/,
  );
  const names = loadScenarios(join(REPO, 'bench')).map((s) => s.name);
  for (const n of ['h2-keepalive-13b', 'h2-keepalive-1k', 'grpc-unary']) assert.ok(names.includes(n), n);
});

test('Legate accepts its HTTP/2 and gRPC bench configs (--mode validate)', () => {
  for (const mode of ['h2', 'grpc'] as const) assertLegateConfigValid(mode, null, [10_001]);
});
