/**
 * Bulk transfer through an upgraded stream: a client asks each proxy (bench/websocket-peers.ts:
 * Legate, whose tunnels move to the splice relay; Legate with LEGATE_NATIVE=0, tunnels in JS;
 * nginx) for `Upgrade: bulk` and reads the origin's N bytes to their end; Gbit/s per run, and
 * the proxy's CPU seconds per GiB. The client and the origin are Node processes on the same cores,
 * so the numbers compare proxies rather than measure a ceiling.
 *
 * Usage: npm run build && node dist/bench/tunnel-bulk.js [MiB=2048] [runs=3]
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { treeCpuSeconds } from './runner/processes';
import { startWebSocketPeers, type Proxy } from './websocket-peers';

const [MIB, RUNS] = [2048, 3].map((d, i) => Number(process.argv[2 + i] ?? d));
const BYTES = MIB * 1024 * 1024;

/** One download of BYTES through `proxy`: seconds from the request to the FIN, and bytes read. */
function download(proxy: Proxy): Promise<{ seconds: number; body: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(proxy.port, '127.0.0.1');
    let read = 0;
    let head = -1;
    let text = '';
    socket.on('data', (d: Buffer) => {
      read += d.length;
      if (head === -1) {
        text += d.toString('latin1', 0, Math.min(d.length, 4096));
        const end = text.indexOf('\r\n\r\n');
        if (end !== -1) head = end + 4;
      }
    });
    socket.on('end', () => {
      socket.destroy();
      resolve({ seconds: (performance.now() - started) / 1000, body: read - head });
    });
    socket.on('error', reject);
    socket.write(`GET /${BYTES} HTTP/1.1\r\nhost: bulk\r\nupgrade: bulk\r\nconnection: upgrade\r\n\r\n`);
  });
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-tunnel-bulk-'));
  const peers = await startWebSocketPeers(dir, ['legate', 'legate-js', 'nginx']);
  try {
    console.log(
      `${MIB} MiB per download, ${RUNS} runs per proxy, load ${os.loadavg()[0]!.toFixed(2)} at start`,
    );
    const rates = new Map<string, number[]>();
    for (let i = 0; i < RUNS; i++) {
      for (const proxy of peers.proxies) {
        const cpuBefore = treeCpuSeconds(proxy.pid);
        const r = await download(proxy);
        if (r.body !== BYTES) throw new Error(`${proxy.name}: ${r.body} bytes of ${BYTES}`);
        const gbits = (BYTES * 8) / r.seconds / 1e9;
        const cpuPerGiB = (treeCpuSeconds(proxy.pid) - cpuBefore) / (MIB / 1024);
        (rates.get(proxy.name) ?? rates.set(proxy.name, []).get(proxy.name)!).push(gbits);
        console.log(
          `run ${i + 1} ${proxy.name.padEnd(9)} ${gbits.toFixed(2)} Gbit/s, proxy CPU ${cpuPerGiB.toFixed(2)} s/GiB`,
        );
      }
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const nginx = rates.has('nginx') ? median(rates.get('nginx')!) : null;
    for (const [name, xs] of rates) {
      const m = median(xs);
      console.log(
        `median ${name.padEnd(9)} ${m.toFixed(2)} Gbit/s${nginx === null ? '' : ` = ${(m / nginx).toFixed(2)}× nginx`}`,
      );
    }
  } finally {
    peers.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
