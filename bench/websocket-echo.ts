/**
 * WebSocket echo through a proxy: Legate (one worker, `upgrade_configs: websocket`; its tunnels on
 * the splice relay) and Legate with LEGATE_NATIVE=0 (`legate-js`: the tunnel relayed in JS) against
 * nginx (one worker, `proxy_http_version 1.1` with the Upgrade / Connection headers passed on), all
 * in front of the same `ws` echo origin (its own process). A closed loop per connection: send a
 * message, wait for its echo, send the next; messages per second and round-trip percentiles, per
 * proxy and as Legate/nginx ratios. The load generator runs in this process, on the same machine.
 *
 * Usage: npm run build && node dist/bench/websocket-echo.js [connections=50] [seconds=10] [runs=3] [bytes=64]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { startWebSocketPeers } from './websocket-peers';

const [CONNECTIONS, SECONDS, RUNS, BYTES] = [50, 10, 3, 64].map((d, i) => Number(process.argv[2 + i] ?? d));
let stopPeers = (): void => {};

/** One closed-loop run: messages per second and round-trip times (ms) of every message. */
async function run(port: number): Promise<{ rate: number; rtts: Float64Array; count: number }> {
  const sockets = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
  const payload = Buffer.alloc(BYTES, 'x');
  const rtts = new Float64Array(5_000_000);
  let count = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let sentAt = 0;
          const send = (): void => {
            sentAt = performance.now();
            ws.send(payload);
          };
          ws.on('message', () => {
            const now = performance.now();
            if (count < rtts.length) rtts[count] = now - sentAt;
            count++;
            if (now < deadline) send();
            else resolve();
          });
          send();
        }),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  for (const ws of sockets) ws.terminate();
  return { rate: count / elapsed, rtts: rtts.subarray(0, Math.min(count, rtts.length)), count };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-ws-bench-'));
  const peers = await startWebSocketPeers(dir, ['legate', 'legate-js', 'nginx']);
  stopPeers = peers.stop;
  const proxies = peers.proxies.map((p): [string, number] => [p.name, p.port]);
  console.log(
    `${CONNECTIONS} connections, ${BYTES} B messages, ${SECONDS} s per run, ${RUNS} runs per proxy, ` +
      `load ${os.loadavg()[0]!.toFixed(2)} at start`,
  );
  const results = new Map<string, { rate: number; p50: number; p99: number }[]>();
  for (let i = 0; i < RUNS; i++) {
    for (const [name, port] of proxies) {
      const r = await run(port);
      const sorted = Float64Array.from(r.rtts).sort();
      const row = { rate: r.rate, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
      (results.get(name) ?? results.set(name, []).get(name)!).push(row);
      console.log(
        `run ${i + 1} ${name.padEnd(9)} ${Math.round(row.rate)} msg/s  p50 ${row.p50.toFixed(3)} ms  p99 ${row.p99.toFixed(3)} ms`,
      );
    }
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = new Map(
    [...results].map(([name, rows]) => [
      name,
      { rate: median(rows.map((r) => r.rate)), p99: median(rows.map((r) => r.p99)) },
    ]),
  );
  for (const [name, s] of summary)
    console.log(`median ${name.padEnd(9)} ${Math.round(s.rate)} msg/s  p99 ${s.p99.toFixed(3)} ms`);
  const n = summary.get('nginx');
  for (const name of ['legate', 'legate-js']) {
    const l = summary.get(name)!;
    if (n !== undefined)
      console.log(
        `${name}/nginx: msg/s ${(l.rate / n.rate).toFixed(2)}×, p99 ${(l.p99 / n.p99).toFixed(2)}×`,
      );
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => stopPeers());
