/**
 * Runs the system's nginx (Debian's package) as a reference proxy for differential tests: one
 * foreground process (`daemon off; master_process off;`) as the current user, with its config, pid,
 * logs and temp directories in a fresh temp dir. Callers check `requireTool(t, 'nginx')` first.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, stopProcess, waitUntilServing } from './reference-process';

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
    const ready = await waitUntilServing(port, proc, path.join(dir, 'nginx.pid'), READY_TIMEOUT_MS);
    const readLog = (): string => (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '') + stderr;
    if (ready) {
      return {
        port,
        dir,
        errorLog: readLog,
        stop: () => stopProcess(proc, exited, dir),
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
