/**
 * Runs the system's nginx (Debian's package) as a reference proxy for differential tests: one
 * foreground process (`daemon off; master_process off;`) as the current user, with its config, pid,
 * logs and temp directories in a fresh temp dir. Callers check `requireTool(t, 'nginx')` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface NginxProcess {
  port: number;
  /** The temp dir holding nginx.conf, error.log and the temp paths. */
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 5000;

/**
 * Starts nginx with `httpBody` inside its `http { }` block. `httpBody` contains `{{PORT}}` where
 * the listen port goes; nginx cannot listen on port 0 and tell us the port, so a free port is
 * picked and the start retried if another process takes it first.
 */
export async function startNginx(nginxPath: string, httpBody: string): Promise<NginxProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-nginx-'));
  let lastError = '';
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, nginxConf(dir, httpBody.replaceAll('{{PORT}}', String(port))));
    const errorLog = path.join(dir, 'error.log');
    const proc = spawn(
      nginxPath,
      ['-p', dir, '-c', conf, '-e', errorLog, '-g', 'daemon off; master_process off;'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const ready = await waitForNginx(port, proc, path.join(dir, 'nginx.pid'));
    const readLog = (): string => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '') + stderr;
    if (ready) {
      return {
        port,
        dir,
        errorLog: readLog,
        stop: async () => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          await exited;
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
    lastError = readLog();
    if (!/Address already in use/.test(lastError)) break;
  }
  throw new Error(`nginx did not start:\n${lastError}`);
}

function nginxConf(dir: string, httpBody: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${httpBody}
}
`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls until nginx has written its pid file (it does so once its listen sockets are bound) and
 * `port` accepts a connection: true; false if the process exits or time runs out. The pid file
 * tells our nginx from another process that may have taken the port.
 */
async function waitForNginx(port: number, proc: ChildProcess, pidFile: string): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
    if (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() === String(proc.pid)) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) return true;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
