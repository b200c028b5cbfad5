/**
 * Active health checking end to end: the real proxy (2 workers, checker on the primary) in front
 * of real origins, with 0.1 s intervals and bounded waits.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { test } from 'node:test';
import {
  admin,
  catchAllVirtualHost,
  healthChecksYaml,
  httpProxyYaml,
  request,
  startLegate,
  startOrigin,
  stat,
  staticCluster,
  type LegateProcess,
  type Origin,
  type OriginHandler,
} from '../integration/harness';

const INTERVAL_S = 0.1;
const TIMEOUT_S = 0.2;
const UNHEALTHY_THRESHOLD = 2;
/** interval × unhealthy_threshold + timeout, the bound the issue sets, plus slack for a loaded CI box. */
const LEAVE_BOUND_MS = (INTERVAL_S * UNHEALTHY_THRESHOLD + TIMEOUT_S) * 1000 + 1500;

/** One check every INTERVAL_S (no_traffic_interval too: these tests check before any request). */
function healthChecks(check: string): string {
  return healthChecksYaml(check, {
    intervalS: INTERVAL_S,
    timeoutS: TIMEOUT_S,
    unhealthyThreshold: UNHEALTHY_THRESHOLD,
    healthyThreshold: 2,
  });
}

/** Every request to cluster o (the origins at `ports`), with `extra` cluster fields and per-endpoint health_check_config. */
function proxyYaml(ports: number[], extra: string, endpointHc: string[] = []): string {
  let clusters = staticCluster('o', ports, extra);
  endpointHc.forEach((hc, i) => {
    const marker = `port_value: ${ports[i]} }`;
    clusters = clusters.replace(marker, `${marker}\n          health_check_config: { ${hc} }`);
  });
  return httpProxyYaml({ virtualHosts: catchAllVirtualHost(), clusters });
}

/** Which origin answered, for `n` sequential keep-alive requests; failures counted by status. */
async function sample(port: number, n: number): Promise<{ origins: Set<string>; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const origins = new Set<string>();
  let errors = 0;
  try {
    for (let i = 0; i < n; i++) {
      const r = await request(port, { path: '/x', agent });
      if (r.status === 200) origins.add(r.body.toString().split(' ')[1]!);
      else errors++;
    }
  } finally {
    agent.destroy();
  }
  return { origins, errors };
}

/** Polls `probe` every 50 ms until it returns true; returns the elapsed ms, or fails after `limitMs`. */
async function waitFor(what: string, limitMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < 1000; i++) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > limitMs) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

async function clustersText(lp: LegateProcess): Promise<string> {
  return (await admin(lp, '/clusters')).body.toString();
}

test('HTTP check: a killed endpoint leaves rotation in time under load and returns after healthy_threshold successes', async () => {
  const origins = await Promise.all([startOrigin(), startOrigin()]);
  const [a, b] = origins as [Origin, Origin];
  const lp = await startLegate(
    proxyYaml([a.port, b.port], healthChecks('http_health_check: { path: /healthz }')),
  );
  let restarted: Origin | null = null;
  // Background load for the whole test: one keep-alive client, counting non-200 answers.
  let loadErrors = 0;
  let running = true;
  const load = (async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; running && i < 100_000; i++) {
      const r = await request(lp.ports.get('proxy')!, { path: '/load', agent }).catch(() => null);
      if (r === null || r.status !== 200) loadErrors++;
    }
    agent.destroy();
  })();
  try {
    // Judge by what each origin received: with one worker (LEGATE_NATIVE=0) the background load and
    // a sampling client can alternate with the round-robin cursor and always land on one host.
    const served = (o: Origin): boolean => o.requests.some((r) => r.url !== '/healthz');
    await waitFor('both hosts serve', 3000, async () => {
      await sample(lp.ports.get('proxy')!, 10);
      return served(a) && served(b);
    });
    assert.ok((await stat(lp, 'cluster.o.health_check.success')) > 0);
    assert.equal(await stat(lp, 'cluster.o.health_check.healthy'), 2);

    await b.close();
    const killedAt = Date.now();
    await waitFor('b marked failed_active_hc', LEAVE_BOUND_MS, async () =>
      (await clustersText(lp)).includes(`o::127.0.0.1:${b.port}::health_flags::/failed_active_hc`),
    );
    const leftAfterMs = Date.now() - killedAt;
    // Every worker now avoids b: no request fails.
    const after = await sample(lp.ports.get('proxy')!, 40);
    assert.equal(after.errors, 0);
    assert.deepEqual(after.origins, new Set([String(a.port)]));
    const errorsWhileUnhealthy = loadErrors;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(loadErrors, errorsWhileUnhealthy, 'client errors stop once b is out of rotation');
    assert.equal(await stat(lp, 'cluster.o.health_check.healthy'), 1);
    assert.ok((await stat(lp, 'cluster.o.health_check.network_failure')) >= UNHEALTHY_THRESHOLD);
    assert.ok(leftAfterMs <= LEAVE_BOUND_MS);

    restarted = await startOrigin(undefined, b.port);
    const back = restarted;
    await waitFor('b back in rotation', 3000, async () => {
      await sample(lp.ports.get('proxy')!, 10);
      return served(back);
    });
    assert.match(await clustersText(lp), new RegExp(`o::127\\.0\\.0\\.1:${b.port}::health_flags::healthy`));
    assert.ok(restarted.requests.some((r) => r.url === '/healthz' && r.headers['user-agent'] === 'Envoy/HC'));
    assert.equal(await stat(lp, 'cluster.o.lb_healthy_panic'), 0);
  } finally {
    running = false;
    await load;
    await lp.stop();
    await a.close();
    await b.close(); // already closed on success; on an early failure it must not keep the test alive
    await restarted?.close();
  }
});

test('TCP check with send/receive on the endpoint health_check_config port', async () => {
  const origins = await Promise.all([startOrigin(), startOrigin()]);
  // Each origin's health port answers PONG to PING; closing one takes its origin out of rotation.
  const healthPorts: net.Server[] = [];
  for (let i = 0; i < 2; i++) {
    // A checker may reset its probe connection (its timeout, Legate stopping): not this test's error.
    const s = net.createServer((c) => {
      c.on('error', () => c.destroy());
      c.on('data', (d) => d.toString() === 'PING' && c.end('PONG'));
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    healthPorts.push(s);
  }
  const hcPort = (s: net.Server): number => (s.address() as net.AddressInfo).port;
  const hex = (s: string): string => Buffer.from(s).toString('hex');
  const lp = await startLegate(
    proxyYaml(
      origins.map((o) => o.port),
      healthChecks(
        `tcp_health_check: { send: { text: "${hex('PING')}" }, receive: [{ text: "${hex('PONG')}" }] }`,
      ),
      healthPorts.map((s) => `port_value: ${hcPort(s)}`),
    ),
  );
  try {
    const port = lp.ports.get('proxy')!;
    await waitFor('checks pass', 3000, async () => (await stat(lp, 'cluster.o.health_check.success')) >= 2);
    assert.equal((await sample(port, 10)).origins.size, 2);
    await new Promise((resolve) => healthPorts[1]!.close(resolve));
    await waitFor('origin 1 out of rotation', LEAVE_BOUND_MS, async () =>
      (await clustersText(lp)).includes(`o::127.0.0.1:${origins[1]!.port}::health_flags::/failed_active_hc`),
    );
    const after = await sample(port, 20);
    assert.deepEqual(
      after.origins,
      new Set([String(origins[0]!.port)]),
      'origin 1 still serves, but fails its TCP check',
    );
  } finally {
    await lp.stop();
    await new Promise((resolve) => healthPorts[0]!.close(resolve));
    await Promise.all(origins.map((o) => o.close()));
  }
});

test('panic threshold: with every host failing its check, traffic still flows and lb_healthy_panic counts', async () => {
  const failHealth: OriginHandler = (req, res) => {
    res.statusCode = req.url === '/healthz' ? 500 : 200;
    res.end(`origin ${(req.socket.localPort ?? 0).toString()} ${req.url}\n`);
  };
  const origins = await Promise.all([startOrigin(failHealth), startOrigin(failHealth)]);
  const lp = await startLegate(
    proxyYaml(
      origins.map((o) => o.port),
      `${healthChecks('http_health_check: { path: /healthz }')}
common_lb_config: { healthy_panic_threshold: { value: 50 } }`,
    ),
  );
  try {
    const port = lp.ports.get('proxy')!;
    await waitFor(
      'both hosts failed',
      3000,
      async () => (await stat(lp, 'cluster.o.health_check.healthy')) === 0,
    );
    assert.equal((await clustersText(lp)).match(/health_flags::\/failed_active_hc/g)?.length, 2);
    const s = await sample(port, 20);
    assert.equal(s.errors, 0);
    assert.equal(s.origins.size, 2);
    assert.ok((await stat(lp, 'cluster.o.lb_healthy_panic')) >= 20);
    assert.ok((await stat(lp, 'cluster.o.health_check.failure')) >= 2);
  } finally {
    await lp.stop();
    await Promise.all(origins.map((o) => o.close()));
  }
});

test('warm-up: listeners open after the first round of checks, bounded by the timeout of a host that never answers', async () => {
  const good = await startOrigin();
  // Accepts connections and never answers: its first check ends by timeout.
  const held: net.Socket[] = [];
  const silent = net.createServer((c) => held.push(c));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const timeoutS = 0.5;
  const started = Date.now();
  // Default no_traffic_interval (60 s): only the first round runs during this test.
  const lp = await startLegate(
    proxyYaml(
      [good.port, silentPort],
      `health_checks:
- { timeout: ${timeoutS}s, interval: 0.1s, unhealthy_threshold: 2, healthy_threshold: 3, http_health_check: { path: /healthz } }`,
    ),
  );
  try {
    const startupMs = Date.now() - started;
    assert.match(lp.output(), /waiting for the first health checks of 1 cluster\(s\)/);
    assert.ok(startupMs < timeoutS * 1000 + 8000, `startup took ${startupMs} ms`);
    const text = await clustersText(lp);
    assert.ok(text.includes(`o::127.0.0.1:${good.port}::health_flags::healthy`), 'one success is enough');
    assert.ok(text.includes(`o::127.0.0.1:${silentPort}::health_flags::/failed_active_hc`));
    // The very first requests already avoid the silent host.
    const s = await sample(lp.ports.get('proxy')!, 10);
    assert.equal(s.errors, 0);
    assert.deepEqual(s.origins, new Set([String(good.port)]));
    assert.equal(await stat(lp, 'cluster.o.health_check.attempt'), 2, 'no traffic yet: no second round');
    assert.equal(await stat(lp, 'cluster.o.health_check.network_failure'), 1);
  } finally {
    await lp.stop();
    held.forEach((c) => c.destroy());
    await new Promise((resolve) => silent.close(resolve));
    await good.close();
  }
});

test('warm-up without an admin: the process waits out initial_jitter instead of exiting', async (t) => {
  const good = await startOrigin();
  t.after(() => good.close());
  // No admin listener and no worker yet: only the warm-up itself may keep the process alive
  // while the first check waits for its jitter.
  const lp = await startLegate(
    httpProxyYaml({
      admin: false,
      virtualHosts: catchAllVirtualHost(),
      clusters: staticCluster(
        'o',
        [good.port],
        `health_checks:
- { timeout: 0.5s, interval: 1s, initial_jitter: 0.3s, unhealthy_threshold: 2, healthy_threshold: 2, http_health_check: { path: /healthz } }`,
      ),
    }),
  );
  t.after(() => lp.stop());
  const s = await sample(lp.ports.get('proxy')!, 3);
  assert.equal(s.errors, 0);
  assert.deepEqual(s.origins, new Set([String(good.port)]));
});
