/**
 * envoy.filters.network.local_ratelimit through the real proxy (2 workers sharing one bucket), in
 * front of tcp_proxy (on each tcp_proxy path: native engine, splice relay, JS relay) and in front
 * of http_connection_manager.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  catchAllYaml,
  request,
  runLegate,
  startOrigin,
  stat,
  withLegate,
  type LegateProcess,
  type Origin,
} from '../integration/harness';
import { collect, connect, l4Paths, startEcho, tcpProxyYaml, type Upstream } from '../l4/fixtures';

const TCP_PROXY_ENTRY = '      - name: envoy.filters.network.tcp_proxy\n';
const HCM_ENTRY = '      - name: envoy.filters.network.http_connection_manager\n';

/** A network local_ratelimit filter entry (filter-list indentation), `extra` at typed_config level. */
function rateLimitEntry(maxTokens: number, extra = ''): string {
  return `      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
          stat_prefix: conn_rl
          token_bucket: { max_tokens: ${maxTokens}, fill_interval: 3600s }
${extra
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `          ${l}\n`)
  .join('')}`;
}

/** `yaml` with `entry` inserted before the first line equal to `before`. */
function insertBefore(yaml: string, before: string, entry: string): string {
  const at = yaml.indexOf(before);
  assert.ok(at >= 0, `fixture: '${before.trim()}' not found`);
  return yaml.slice(0, at) + entry + yaml.slice(at);
}

/** The tcp_proxy config (listener `tcp`) with the filter, `maxTokens` and `extra`, before tcp_proxy. */
function limitedTcpYaml(maxTokens: number, extra = ''): string {
  return insertBefore(
    tcpProxyYaml({ upstreamPorts: [echo.port] }),
    TCP_PROXY_ENTRY,
    rateLimitEntry(maxTokens, extra),
  );
}

/** `yaml` with a second listener `tcp2`: the same filters (and share_key), its own port. */
function withSecondListener(yaml: string): string {
  const listener = yaml.slice(yaml.indexOf('  - name: tcp\n'), yaml.indexOf('  clusters:\n'));
  return yaml.replace('  clusters:\n', listener.replace('name: tcp\n', 'name: tcp2\n') + '  clusters:\n');
}

/** Legate (2 workers, one bucket between them) on `yaml` for the length of `body`. */
function withProxy(
  yaml: string,
  body: (proxy: LegateProcess) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  return withLegate(yaml, { concurrency: 2, env }, body);
}

/** Opens `n` connections at once, each sends `ping` and half-closes; resolves with what each read. */
async function pingAll(port: number, n: number): Promise<string[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => connect(port, false)));
  const outcomes = sockets.map((s) => collect(s));
  for (const s of sockets) s.end('ping');
  return (await Promise.all(outcomes)).map((o) => o.data.toString());
}

let echo: Upstream;
let origin: Origin;

before(async () => {
  echo = await startEcho();
  origin = await startOrigin();
});

after(async () => {
  await echo?.close();
  await origin?.close();
});

test('before http_connection_manager: a limited connection is closed before any request', async () => {
  await withProxy(insertBefore(catchAllYaml([origin.port]), HCM_ENTRY, rateLimitEntry(2)), async (proxy) => {
    const port = proxy.ports.get('proxy')!;
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => request(port)));
    const ok = outcomes.filter((o) => o.status === 'fulfilled' && o.value.status === 200);
    const failed = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(ok.length, 2);
    assert.equal(failed.length, 3, 'the other connections are closed without a response');
    assert.equal(await stat(proxy, 'local_rate_limit.conn_rl.rate_limited'), 3);
    assert.equal(await stat(proxy, 'http.ingress_http.downstream_cx_total'), 2);
  });
});

for (const path of l4Paths()) {
  test(`${path.name} path, before tcp_proxy: max_tokens connections relay, the rest are closed before any upstream connect`, async () => {
    await withProxy(
      limitedTcpYaml(3),
      async (proxy) => {
        const results = await pingAll(proxy.ports.get('tcp')!, 6);
        assert.equal(results.filter((r) => r === 'ping').length, 3, `results: ${JSON.stringify(results)}`);
        assert.equal(results.filter((r) => r === '').length, 3);
        assert.equal(await stat(proxy, 'local_rate_limit.conn_rl.rate_limited'), 3);
        assert.equal(
          await stat(proxy, 'tcp.l4.downstream_cx_total'),
          3,
          'tcp_proxy never saw the limited ones',
        );
        assert.equal(await stat(proxy, 'cluster.up.upstream_cx_total'), 3);
        // A filter that only looks at new connections keeps the engine, or the splice relay.
        assert.match(proxy.output(), new RegExp(`tcp_proxy 'l4' ${path.log}\\b`));
      },
      path.env,
    );
  });

  test(`${path.name} path, share_key: two listeners with the same key and token_bucket share one bucket`, async () => {
    await withProxy(
      withSecondListener(limitedTcpYaml(3, 'share_key: shared')),
      async (proxy) => {
        const first = await pingAll(proxy.ports.get('tcp')!, 2);
        const second = await pingAll(proxy.ports.get('tcp2')!, 2);
        assert.deepEqual(first, ['ping', 'ping']);
        assert.equal(
          second.filter((r) => r === 'ping').length,
          1,
          'one token was left for the second listener',
        );
        assert.equal(await stat(proxy, 'local_rate_limit.conn_rl.rate_limited'), 1);
      },
      path.env,
    );
  });

  test(`${path.name} path: without share_key each listener has its own bucket`, async () => {
    await withProxy(
      withSecondListener(limitedTcpYaml(2)),
      async (proxy) => {
        assert.deepEqual(await pingAll(proxy.ports.get('tcp')!, 2), ['ping', 'ping']);
        assert.deepEqual(await pingAll(proxy.ports.get('tcp2')!, 2), ['ping', 'ping']);
      },
      path.env,
    );
  });

  test(`${path.name} path: runtime_enabled with default_value false turns the filter off`, async () => {
    const yaml = limitedTcpYaml(1, 'runtime_enabled: { runtime_key: rl_on, default_value: false }');
    await withProxy(
      yaml,
      async (proxy) => {
        assert.deepEqual(await pingAll(proxy.ports.get('tcp')!, 3), ['ping', 'ping', 'ping']);
        assert.equal(await stat(proxy, 'local_rate_limit.conn_rl.rate_limited'), 0);
      },
      path.env,
    );
  });
}

test('config errors: token_bucket and stat_prefix are required; the filter is not terminal', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-nrl-'));
  const file = path.join(dir, 'envoy.yaml');
  const entry = `      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
          runtime_enabled: { default_value: true }
`;
  fs.writeFileSync(file, insertBefore(tcpProxyYaml({ upstreamPorts: [echo.port] }), TCP_PROXY_ENTRY, entry));
  const missing = await runLegate(['--mode', 'validate', '-c', file]);
  // Alone in the chain, it is not terminal.
  const alone = tcpProxyYaml({ upstreamPorts: [echo.port] }).replace(
    / {6}- name: envoy\.filters\.network\.tcp_proxy[\s\S]*?cluster: up\n/,
    rateLimitEntry(1),
  );
  fs.writeFileSync(file, alone);
  const notTerminal = await runLegate(['--mode', 'validate', '-c', file]);
  fs.rmSync(dir, { recursive: true });
  assert.notEqual(missing.code, 0);
  const out = missing.stdout + missing.stderr;
  assert.match(out, /stat_prefix/);
  assert.match(out, /token_bucket/);
  assert.match(out, /runtime_key/);
  assert.notEqual(notTerminal.code, 0);
  assert.match(notTerminal.stdout + notTerminal.stderr, /must be terminal/);
});
