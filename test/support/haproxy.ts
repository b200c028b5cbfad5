/**
 * Runs the system's HAProxy (Debian's package) in the foreground (`-db`) as a client-side proxy
 * for tests, e.g. one that sends the PROXY protocol to Legate. Callers check
 * `requireTool(t, 'haproxy')` first.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, stopProcess, waitUntilServing } from './reference-process';

export interface HaproxyProcess {
  port: number;
  stop(): Promise<void>;
}

const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 5000;

/**
 * Starts HAProxy with `sections` (frontends, backends) after a tcp-mode `defaults`; `{{PORT}}` is
 * where the frontend's port goes (a free one, retried if another process takes it first).
 */
export async function startHaproxy(haproxyPath: string, sections: string): Promise<HaproxyProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-haproxy-'));
  const conf = path.join(dir, 'haproxy.cfg');
  let stderr = '';
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    fs.writeFileSync(
      conf,
      `defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${sections.replaceAll('{{PORT}}', String(port))}
`,
    );
    const proc = spawn(haproxyPath, ['-db', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (await waitUntilServing(port, proc, null, READY_TIMEOUT_MS)) {
      return {
        port,
        stop: () => stopProcess(proc, exited, dir),
      };
    }
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
    if (!/Address already in use|cannot bind/i.test(stderr)) break;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`haproxy did not start:\n${stderr}`);
}
