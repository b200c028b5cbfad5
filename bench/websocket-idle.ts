/**
 * What an idle WebSocket costs a proxy: N WebSockets opened through Legate (default path),
 * Legate with LEGATE_NATIVE=0 and nginx (bench/websocket-peers.ts) to the same `ws` echo origin,
 * one message echoed on each, then left idle. Per proxy: its process tree's settled RSS (from
 * /proc, as the idle-connections scenario reads it) and open fds, before and with the WebSockets
 * open, per connection. One proxy at a time, each WebSocket closed before the next proxy's open.
 *
 * The machine's fd limit bounds N: every WebSocket takes two fds in the proxy and one each in
 * this process and in the origin (RLIMIT_NOFILE is 20,000 on the project's VM: N up to ~9,500).
 *
 * Usage: npm run build && node dist/bench/websocket-idle.js [connections=9000]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { settledRss } from './runner/idle-memory';
import { startWebSocketPeers, type Proxy } from './websocket-peers';

const CONNECTIONS = Number(process.argv[2] ?? 9000);
/** WebSockets opening at once. */
const OPEN_CONCURRENCY = 100;

/** Open fds of `pid` and its descendants' own (nginx's worker is the master's child). */
function treeFds(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      total += fs.readdirSync(`/proc/${p}/fd`).length;
      for (const tid of fs.readdirSync(`/proc/${p}/task`)) {
        const children = fs.readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (children !== '') stack.push(...children.split(' ').map(Number));
      }
    } catch {
      // exited
    }
  }
  return total;
}

/** Opens `count` WebSockets to `port`, each echoing one message, OPEN_CONCURRENCY at a time. */
async function openIdle(port: number, count: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
        sockets.push(ws);
        ws.once('error', reject);
        ws.once('open', () => ws.send('hello'));
        ws.once('message', () => resolve());
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, lane));
  } catch (err) {
    for (const ws of sockets) ws.terminate();
    throw err;
  }
  return sockets;
}

async function measure(proxy: Proxy): Promise<void> {
  const rssBefore = await settledRss(proxy.pid);
  const fdsBefore = treeFds(proxy.pid);
  const started = performance.now();
  const sockets = await openIdle(proxy.port, CONNECTIONS);
  const openMs = performance.now() - started;
  const rssWith = await settledRss(proxy.pid);
  const fdsWith = treeFds(proxy.pid);
  const rssPer = (rssWith - rssBefore) / CONNECTIONS;
  const fdsPer = (fdsWith - fdsBefore) / CONNECTIONS;
  console.log(
    `${proxy.name.padEnd(9)} RSS ${(rssBefore / 1024).toFixed(1)} → ${(rssWith / 1024).toFixed(1)} MiB: ` +
      `${rssPer.toFixed(2)} KiB per WebSocket; fds ${fdsBefore} → ${fdsWith}: ${fdsPer.toFixed(2)} per WebSocket ` +
      `(opened in ${(openMs / 1000).toFixed(1)} s)`,
  );
  for (const ws of sockets) ws.terminate();
  await new Promise((r) => setTimeout(r, 2000));
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-ws-idle-'));
  const peers = await startWebSocketPeers(dir, ['legate', 'legate-js', 'nginx']);
  try {
    console.log(`${CONNECTIONS} idle WebSockets per proxy, load ${os.loadavg()[0]!.toFixed(2)} at start`);
    for (const proxy of peers.proxies) await measure(proxy);
  } finally {
    peers.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
