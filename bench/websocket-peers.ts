/**
 * The processes the WebSocket and tunnel benches compare: an origin (its own process) that is a
 * `ws` echo server for `Upgrade: websocket` and, for `Upgrade: bulk` to `/<n>`, answers 101 and
 * sends n bytes as fast as the tunnel takes them, then FIN; Legate (one worker, `upgrade_configs`
 * websocket and bulk) with its default path (tunnels on the splice relay once
 * they carried 64 KiB), Legate with LEGATE_NATIVE=0 (`legate-js`: tunnels relayed in JS), and nginx
 * (one worker, `proxy_http_version 1.1` with the Upgrade / Connection headers passed on) when it
 * is installed, all in front of the same origin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { findTool } from '../test/support/system-tools';
import { catchAllVirtualHost, httpProxyYaml, staticCluster } from '../test/integration/harness';
import { freePort } from './runner/processes';

const ROOT = path.join(__dirname, '..', '..');

export interface Proxy {
  name: 'legate' | 'legate-js' | 'nginx';
  port: number;
  /** The process whose tree holds the proxy's memory and fds (nginx: the master). */
  pid: number;
}

export interface WebSocketPeers {
  originPort: number;
  proxies: Proxy[];
  stop(): void;
}

const ORIGIN_SCRIPT = `
const http = require('node:http');
const { WebSocketServer } = require(${JSON.stringify(require.resolve('ws'))});
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
const chunk = Buffer.alloc(1024 * 1024, 'b');
const server = http.createServer((req, res) => res.end());
server.on('upgrade', (req, socket, head) => {
  if (req.headers.upgrade !== 'bulk') return wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nupgrade: bulk\\r\\nconnection: upgrade\\r\\n\\r\\n');
  let left = Number(req.url.slice(1));
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once('drain', pump);
    }
    socket.end();
  };
  socket.on('error', () => {});
  pump();
});
server.listen(Number(process.argv[1]), '127.0.0.1');`;

function legateYaml(port: number, origin: number): string {
  return httpProxyYaml({
    listenerPort: port,
    admin: false,
    hcmExtra: 'upgrade_configs: [{ upgrade_type: websocket }, { upgrade_type: bulk }]',
    virtualHosts: catchAllVirtualHost(),
    // Every open WebSocket holds an upstream connection and a request: Envoy's default circuit
    // breakers (1,024 each) would make the rest wait.
    clusters: staticCluster(
      'o',
      [origin],
      `circuit_breakers:
  thresholds: [{ max_connections: 100000, max_pending_requests: 100000, max_requests: 100000 }]`,
    ),
  });
}

function nginxConf(dir: string, port: number, origin: number): string {
  return `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
worker_rlimit_nofile 65536;
events { worker_connections 65536; }
http { access_log off;
  server { listen 127.0.0.1:${port} backlog=4096;
    location / { proxy_pass http://127.0.0.1:${origin}; proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";
      proxy_read_timeout 3600s; } } }
`;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(true));
      s.on('error', () => resolve(false));
      s.on('connect', () => s.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Starts the origin and the proxies (`names`, nginx only if installed), ready to take connections. */
export async function startWebSocketPeers(dir: string, names: Proxy['name'][]): Promise<WebSocketPeers> {
  const children: ChildProcess[] = [];
  const start = (command: string, args: string[], env: Record<string, string> = {}): ChildProcess => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, ...env },
    });
    children.push(child);
    return child;
  };
  const stop = (): void => {
    for (const child of children) child.kill('SIGTERM');
  };
  try {
    const originPort = await freePort();
    start(process.execPath, ['-e', ORIGIN_SCRIPT, String(originPort)]);
    const proxies: Proxy[] = [];
    for (const name of names) {
      const port = await freePort();
      if (name === 'nginx') {
        const nginx = findTool('nginx');
        if (nginx === null) {
          console.log('nginx not found: Legate only');
          continue;
        }
        fs.writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, port, originPort));
        proxies.push({ name, port, pid: start(nginx, ['-c', path.join(dir, 'nginx.conf'), '-p', dir]).pid! });
        continue;
      }
      fs.writeFileSync(path.join(dir, `${name}.yaml`), legateYaml(port, originPort));
      const args = ['-c', path.join(dir, `${name}.yaml`), '--concurrency', '1', '-l', 'warn'];
      const env: Record<string, string> = name === 'legate-js' ? { LEGATE_NATIVE: '0' } : {};
      proxies.push({
        name,
        port,
        pid: start(process.execPath, [path.join(ROOT, 'bin', 'legate.js'), ...args], env).pid!,
      });
    }
    for (const port of [originPort, ...proxies.map((p) => p.port)]) await waitForPort(port);
    return { originPort, proxies, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
