/**
 * The `idle-memory` scenarios: what an idle keep-alive connection costs a system in resident memory.
 * The runner opens the connections itself (one request each, then silence) and reads the RSS of the
 * system's process tree from /proc once it has settled.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunRecord } from './execute';
import { treeRssKiB } from './processes';
import type { Scenario } from './scenario';

/** How often, how closely and for how long `settledRss` watches a system's memory. */
const RSS_POLL_MS = 1000;
const RSS_STABLE_READINGS = 3;
const RSS_STABLE_FRACTION = 0.01;
const RSS_SETTLE_LIMIT_MS = 30_000;

/**
 * The system's RSS once it stops moving: RSS_STABLE_READINGS readings RSS_POLL_MS apart within
 * RSS_STABLE_FRACTION of each other, or the last reading at RSS_SETTLE_LIMIT_MS. A garbage-collected
 * runtime frees what setting connections up left behind some seconds after the load stops (V8's
 * memory reducer); reading RSS at once would count that garbage as the connections' cost.
 */
export async function settledRss(pid: number): Promise<number> {
  const readings = [treeRssKiB(pid)];
  const deadline = performance.now() + RSS_SETTLE_LIMIT_MS;
  while (performance.now() < deadline) {
    await sleep(RSS_POLL_MS);
    readings.push(treeRssKiB(pid));
    const recent = readings.slice(-RSS_STABLE_READINGS);
    if (recent.length < RSS_STABLE_READINGS) continue;
    const low = Math.min(...recent);
    if (Math.max(...recent) - low <= low * RSS_STABLE_FRACTION) break;
  }
  return readings[readings.length - 1]!;
}

/** Opens `count` keep-alive connections to `port`, IDLE_OPEN_CONCURRENCY at a time, one answered request each. */
const IDLE_OPEN_CONCURRENCY = 200;
async function openIdleConnections(port: number, path: string, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const request = `GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`;
  const openOne = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      s.once('error', reject);
      s.once('data', () => resolve());
      s.write(request);
    });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await openOne();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(IDLE_OPEN_CONCURRENCY, count) }, lane));
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return sockets;
}

/**
 * RSS per idle keep-alive connection (KiB) of the system `pid` listening on `port`: its settled RSS
 * with `load.connections` of them open, less before, over their number.
 */
export async function measureIdleMemory(
  sc: Scenario,
  system: string,
  port: number,
  pid: number | null,
  rep: number,
): Promise<RunRecord> {
  const base: RunRecord = {
    scenario: sc.name,
    variant: '',
    system,
    rep,
    ok: false,
    throughput: 0,
    unit: 'KiB/conn',
    rate: 0,
    systemCpuPercent: null,
    systemCpuUsPerRequest: null,
  };
  if (pid === null) return { ...base, error: 'no process to measure' };
  const count = sc.load.connections;
  const before = await settledRss(pid);
  let sockets: Socket[] = [];
  try {
    sockets = await openIdleConnections(port, sc.load.path, count);
    const after = await settledRss(pid);
    return { ...base, ok: true, throughput: (after - before) / count };
  } catch (err) {
    return {
      ...base,
      error: `opening ${count} connections: ${err instanceof Error ? err.message : String(err)}`,
    };
  } finally {
    for (const s of sockets) s.destroy();
  }
}
