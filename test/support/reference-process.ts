/**
 * What the helpers that run reference servers (nginx, HAProxy) share: a free port to give them
 * (they cannot listen on port 0 and tell us which port they got) and waiting until they serve it.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

export function freePort(): Promise<number> {
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
 * Polls until the process has written its pid file (nginx does so once its listen sockets are
 * bound) and `port` accepts a connection: true; false if the process exits or time runs out. The
 * pid file tells our process from another one that may have taken the port; without one (HAProxy
 * in the foreground writes none), a process that lost the port exits, which the caller sees.
 */
export async function waitUntilServing(
  port: number,
  proc: ChildProcess,
  pidFile: string | null,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
    if (
      pidFile === null ||
      (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() === String(proc.pid))
    ) {
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

/** Stops the process (SIGTERM) unless it already exited, then removes its directory. */
export async function stopProcess(proc: ChildProcess, exited: Promise<void>, dir: string): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  await exited;
  fs.rmSync(dir, { recursive: true, force: true });
}
