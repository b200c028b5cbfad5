/**
 * Priority levels end to end: the real proxy in front of 5 P0 origins and 1 P1 origin, health
 * decided by active HTTP checks the test toggles per origin. All healthy, P1 gets nothing; with 3 of
 * the 5 P0 hosts failing, P0 keeps 2/5 × 1.4 = 56 % and P1 takes the other 44 %.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { test } from 'node:test';
import {
  catchAllYaml,
  healthChecksYaml,
  request,
  startLegate,
  startOrigin,
  stat,
  type LegateProcess,
  type Origin,
  type OriginHandler,
} from '../integration/harness';

/** 3 binomial standard deviations at n = 400, p = 0.44 are ±7.4 %; a little more for a loaded box. */
const REQUESTS = 400;
const P1_SHARE_TOLERANCE = 0.1;

/**
 * P0 and P1 origins, each checked every 0.1 s and failed (or healed) by a single check. The
 * timeout is generous: on a loaded machine a 0.2 s one timed the P1 host out now and then, and a
 * P1 level that flaps to unhealthy takes no spill (seen once: a P1 share of 0.23).
 */
function proxyYaml(p0: number[], p1: number[]): string {
  const checks = healthChecksYaml('http_health_check: { path: /healthz }', {
    unhealthyThreshold: 1,
    healthyThreshold: 1,
    timeoutS: 1,
  });
  return catchAllYaml([p0, p1], { clusterExtra: checks });
}

/** Sends `n` requests (4 at a time, keep-alive) and counts the answers per origin port. */
async function spread(port: number, n: number): Promise<Map<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const counts = new Map<number, number>();
  try {
    let next = 0;
    const client = async (): Promise<void> => {
      while (next < n) {
        next++;
        const r = await request(port, { path: '/x', agent });
        assert.equal(r.status, 200);
        const origin = Number(r.body.toString().split(' ')[1]);
        counts.set(origin, (counts.get(origin) ?? 0) + 1);
      }
    };
    await Promise.all([client(), client(), client(), client()]);
  } finally {
    agent.destroy();
  }
  return counts;
}

async function waitForHealthy(lp: LegateProcess, expected: number): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < 200 && Date.now() - started < 5000; i++) {
    if ((await stat(lp, 'cluster.o.health_check.healthy')) === expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`health_check.healthy never reached ${expected}`);
}

test('P1 idles while P0 is healthy and takes ~44 % when 3 of 5 P0 hosts fail their checks', async () => {
  const sick = new Set<number>();
  const handler: OriginHandler = (req, res) => {
    const port = req.socket.localPort ?? 0;
    res.statusCode = req.url === '/healthz' && sick.has(port) ? 503 : 200;
    res.end(`origin ${port} ${req.url}\n`);
  };
  const origins: Origin[] = await Promise.all(Array.from({ length: 6 }, () => startOrigin(handler)));
  const ports = origins.map((o) => o.port);
  const [p0, p1] = [ports.slice(0, 5), ports[5]!];
  const lp = await startLegate(proxyYaml(p0, [p1]));
  try {
    const proxy = lp.ports.get('proxy')!;
    await waitForHealthy(lp, 6);
    const healthy = await spread(proxy, 200);
    assert.equal(healthy.get(p1), undefined, 'P1 served while P0 was fully healthy');
    for (const p of p0) assert.ok((healthy.get(p) ?? 0) > 0, `P0 origin ${p} never served`);

    for (const p of p0.slice(0, 3)) sick.add(p);
    await waitForHealthy(lp, 3);
    const spill = await spread(proxy, REQUESTS);
    const share = (spill.get(p1) ?? 0) / REQUESTS;
    assert.ok(Math.abs(share - 0.44) < P1_SHARE_TOLERANCE, `P1 share ${share}, expected ~0.44`);
    for (const p of p0.slice(0, 3)) assert.equal(spill.get(p), undefined, `failed P0 origin ${p} served`);
    assert.equal(await stat(lp, 'cluster.o.lb_healthy_panic'), 0);
  } finally {
    await lp.stop();
    await Promise.all(origins.map((o) => o.close()));
  }
});
