/**
 * Circuit breakers through the real proxy with two worker threads: the limits hold for the whole
 * process (a per-worker limit would let twice as much through), overflow is a 503 with
 * `x-envoy-overloaded: true` and Envoy's stats, and retries are bounded by max_retries or a budget.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type * as http from 'node:http';
import {
  startLegate,
  startOrigin,
  request,
  httpProxyYaml,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
  type SimpleResponse,
} from '../integration/harness';

/** An origin that answers `status` after `delayMs`, counting concurrent requests (and retries). */
interface CountingOrigin {
  origin: Origin;
  maxActive: number;
  /** Most attempts after the first of one request (by x-id) in flight at once. */
  maxActiveRetries: number;
}

async function countingOrigin(delayMs: number, status: number): Promise<CountingOrigin> {
  let active = 0;
  let activeRetries = 0;
  const attempts = new Map<string, number>();
  const state = { maxActive: 0, maxActiveRetries: 0 } as CountingOrigin;
  state.origin = await startOrigin((req: http.IncomingMessage, res: http.ServerResponse) => {
    const id = String(req.headers['x-id']);
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    const retry = attempt > 1;
    active++;
    if (retry) activeRetries++;
    state.maxActive = Math.max(state.maxActive, active);
    state.maxActiveRetries = Math.max(state.maxActiveRetries, activeRetries);
    setTimeout(() => {
      active--;
      if (retry) activeRetries--;
      res.statusCode = status;
      res.end(`attempt ${attempt}`);
    }, delayMs);
  });
  return state;
}

let legate: LegateProcess;
let port: number;
let limited: CountingOrigin;
let queued: CountingOrigin;
let flaky: CountingOrigin;
let budgeted: CountingOrigin;

before(async () => {
  limited = await countingOrigin(500, 200);
  queued = await countingOrigin(600, 200);
  flaky = await countingOrigin(300, 503);
  budgeted = await countingOrigin(300, 503);
  const retry = 'retry_policy: { retry_on: 5xx, num_retries: 3 }';
  legate = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/limited" }
    route: { cluster: limited }
  - match: { prefix: "/queued" }
    route: { cluster: queued }
  - match: { prefix: "/flaky" }
    route: { cluster: flaky, ${retry} }
  - match: { prefix: "/budgeted" }
    route: { cluster: budgeted, ${retry} }`,
      clusters:
        staticCluster(
          'limited',
          [limited.origin.port],
          'circuit_breakers: { thresholds: [{ max_requests: 5, track_remaining: true }] }',
        ) +
        staticCluster(
          'queued',
          [queued.origin.port],
          'circuit_breakers: { thresholds: [{ max_connections: 1, max_pending_requests: 2 }] }',
        ) +
        staticCluster(
          'flaky',
          [flaky.origin.port],
          'circuit_breakers: { thresholds: [{ max_retries: 1 }] }',
        ) +
        staticCluster(
          'budgeted',
          [budgeted.origin.port],
          `circuit_breakers:
  thresholds:
  - max_retries: 0
    retry_budget: { budget_percent: { value: 10 }, min_retry_concurrency: 2 }`,
        ),
    }),
    { concurrency: 2 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  for (const o of [limited, queued, flaky, budgeted]) await o?.origin.close();
});

/** `n` requests at once, each on its own connection (so the kernel spreads them over both workers). */
function burst(path: string, n: number): Promise<SimpleResponse[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => request(port, { path, headers: { 'x-id': `${path}-${i}` } })),
  );
}

function overloaded(responses: SimpleResponse[]): number {
  return responses.filter((r) => r.status === 503 && r.headers['x-envoy-overloaded'] === 'true').length;
}

/** Polls a stat until `ok(value)` (every 20 ms, up to 3 s); returns the last value read. */
async function statUntil(name: string, ok: (v: number) => boolean): Promise<number> {
  let v = await stat(legate, name);
  for (let i = 0; i < 150 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 20));
    v = await stat(legate, name);
  }
  return v;
}

test('max_requests holds across both workers; the rest get 503 x-envoy-overloaded', async () => {
  const sent = 60;
  const responses = burst('/limited', sent);
  const gauge = 'cluster.limited.circuit_breakers.default.rq_open';
  assert.equal(await statUntil(gauge, (v) => v === 1), 1, 'rq_open while 5 requests are in flight');
  const done = await responses;

  const ok = done.filter((r) => r.status === 200).length;
  const rejected = overloaded(done);
  assert.equal(ok + rejected, sent, `only 200s and overload 503s: ${done.map((r) => r.status).join(',')}`);
  assert.ok(
    limited.maxActive <= 5,
    `the origin saw ${limited.maxActive} concurrent requests (max_requests 5)`,
  );
  assert.ok(rejected > 0 && ok >= 5, `${ok} served, ${rejected} rejected`);
  const sample = done.find((r) => r.status === 503)!;
  assert.match(sample.body.toString(), /reset reason: overflow/);
  assert.equal(await stat(legate, 'cluster.limited.upstream_rq_pending_overflow'), rejected);
  assert.equal(await statUntil(gauge, (v) => v === 0), 0);
  assert.equal(await statUntil('cluster.limited.circuit_breakers.default.remaining_rq', (v) => v === 5), 5);
});

test('max_pending_requests and max_connections bound the queue across both workers', async () => {
  const sent = 20;
  const done = await burst('/queued', sent);
  const ok = done.filter((r) => r.status === 200).length;
  const rejected = overloaded(done);
  assert.equal(ok + rejected, sent, `only 200s and overload 503s: ${done.map((r) => r.status).join(',')}`);
  // One connection (plus the one Envoy lets a second worker's empty pool open), two waiting.
  assert.ok(queued.maxActive <= 2, `the origin saw ${queued.maxActive} concurrent requests`);
  assert.ok(ok >= 1 && ok <= 4, `served ${ok}: at most 2 on connections + 2 waiting`);
  assert.equal(await stat(legate, 'cluster.queued.upstream_rq_pending_overflow'), rejected);
  assert.ok((await stat(legate, 'cluster.queued.upstream_cx_overflow')) > 0);
});

test('max_retries bounds concurrent retries process-wide; the others answer with the upstream 503', async () => {
  const sent = 8;
  const done = await burst('/flaky', sent);
  assert.deepEqual(
    done.map((r) => [r.status, r.headers['x-envoy-overloaded']]),
    done.map(() => [503, undefined]),
    'the upstream reply passes through when the retry breaker is open',
  );
  assert.ok(
    flaky.maxActiveRetries <= 1,
    `${flaky.maxActiveRetries} retries in flight at once (max_retries 1)`,
  );
  const retries = await stat(legate, 'cluster.flaky.upstream_rq_retry');
  assert.ok(retries >= 1, 'a retry was allowed');
  assert.ok((await stat(legate, 'cluster.flaky.upstream_rq_retry_overflow')) > 0);
  assert.equal(flaky.origin.requests.length, sent + retries);
  assert.equal(await statUntil('cluster.flaky.circuit_breakers.default.rq_retry_open', (v) => v === 0), 0);
});

test('a retry budget replaces max_retries: min_retry_concurrency retries at once, even with max_retries 0', async () => {
  const sent = 10;
  const done = await burst('/budgeted', sent);
  assert.ok(done.every((r) => r.status === 503));
  assert.ok(
    budgeted.maxActiveRetries <= 2,
    `${budgeted.maxActiveRetries} retries in flight at once (budget 2)`,
  );
  const retries = await stat(legate, 'cluster.budgeted.upstream_rq_retry');
  assert.ok(retries >= 1, 'the budget allowed retries although max_retries is 0');
  assert.ok((await stat(legate, 'cluster.budgeted.upstream_rq_retry_overflow')) > 0);
  assert.equal(budgeted.origin.requests.length, sent + retries);
});
