/**
 * The processes a scenario starts (origins, proxies): each in its own process group, so stopping
 * one stops its workers too (nginx master + workers); a readiness wait on its port; CPU accounting
 * over its whole process tree from /proc; and a stop-everything that also runs on SIGINT/SIGTERM
 * and at exit, so a failed or interrupted suite leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Linux clock ticks per second for /proc utime/stime (USER_HZ, 100 on every mainstream kernel). */
const CLOCK_TICKS = 100;
const STOP_GRACE_MS = 3000;

export interface Managed {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Path of the file collecting its stdout+stderr. */
  logPath: string;
  /** Set once the process exited (with its code or signal). */
  exited: string | null;
}

const running = new Set<Managed>();

/** Sends `signal` to the process group of `m` (we started it as a group leader). */
function signalGroup(m: Managed, signal: NodeJS.Signals): void {
  try {
    process.kill(-m.pid, signal);
  } catch {
    // already gone
  }
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  logPath: string,
  cwd?: string,
  /** Add to an existing log (a process started again) instead of replacing it. */
  appendLog = false,
): Managed {
  const log = createWriteStream(logPath, { flags: appendLog ? 'a' : 'w' });
  log.on('error', () => {}); // a log we cannot write must not take the suite down
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Two sources share one file: neither may end it; it closes with the child.
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  child.on('close', () => log.end());
  const m: Managed = { name, pid: child.pid ?? -1, child, logPath, exited: null };
  child.on('exit', (code, signal) => {
    m.exited = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
  });
  child.on('error', (err) => {
    m.exited = `failed to start: ${err.message}`;
  });
  if (m.pid > 0) running.add(m);
  return m;
}

/** Last lines of a process's log, for failure reports. */
export function logTail(m: Managed, lines = 8): string {
  try {
    return readFileSync(m.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits until `port` accepts connections; throws (with the log tail) if the process dies or time runs out. */
export async function waitForPort(m: Managed, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (m.exited !== null) throw new Error(`${m.name} ${m.exited}\n${logTail(m)}`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${m.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms\n${logTail(m)}`);
}

export async function stopProcess(m: Managed): Promise<void> {
  if (!running.delete(m)) return;
  if (m.exited === null) {
    signalGroup(m, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (m.exited === null && Date.now() < deadline) await sleep(25);
  }
  // Whatever is left of the group (workers of a master that died first) goes now.
  signalGroup(m, 'SIGKILL');
}

/** SIGKILL to the whole group at once (no grace: its connections are reset), then waits for the exit. */
export async function killProcess(m: Managed): Promise<void> {
  if (!running.delete(m)) return;
  signalGroup(m, 'SIGKILL');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (m.exited === null && Date.now() < deadline) await sleep(5);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stopProcess));
}

/** Synchronous last resort for process exit paths where nothing can be awaited. */
function killAllNow(): void {
  for (const m of running) signalGroup(m, 'SIGKILL');
  running.clear();
}

let trapsInstalled = false;

/** Stops every started process on SIGINT/SIGTERM (then exits 130/143) and at process exit. */
export function installCleanupTraps(): void {
  if (trapsInstalled) return;
  trapsInstalled = true;
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    process.stderr.write(`\nbench-suite: ${signal}: stopping every started process\n`);
    void stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal('SIGINT', 130));
  process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  process.once('exit', killAllNow);
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') for (const c of text.split(' ')) out.push(Number(c));
    } catch {
      // thread exited
    }
  }
  return out;
}

/**
 * CPU seconds of a process (all its threads) plus its exited-and-reaped children (cutime, cstime),
 * so a worker that exits mid-run keeps counting through its parent; 0 if the process is gone.
 */
function processCpu(pid: number): CpuSeconds {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: utime, stime, cutime, cstime are fields 14–17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      user: (Number(f[11]) + Number(f[13])) / CLOCK_TICKS,
      kernel: (Number(f[12]) + Number(f[14])) / CLOCK_TICKS,
    };
  } catch {
    return { user: 0, kernel: 0 };
  }
}

/** CPU time in seconds, split as the kernel accounts it (utime / stime). */
export interface CpuSeconds {
  user: number;
  kernel: number;
}

/** CPU used so far by `pid` and every live descendant (nginx workers, node threads). */
export function treeCpu(pid: number): CpuSeconds {
  const total = { user: 0, kernel: 0 };
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const cpu = processCpu(p);
    total.user += cpu.user;
    total.kernel += cpu.kernel;
    stack.push(...childrenOf(p));
  }
  return total;
}

/** Resident memory (VmRSS) of `pid` and every live descendant, in KiB; 0 for a process gone. */
export function treeRssKiB(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // exited
    }
    stack.push(...childrenOf(p));
  }
  return total;
}

export function treeCpuSeconds(pid: number): number {
  const cpu = treeCpu(pid);
  return cpu.user + cpu.kernel;
}

/** Starts measuring `pid`'s tree (null: nothing to measure); the result gives the CPU used since. */
export function cpuMeter(pid: number | null): () => CpuSeconds | null {
  if (pid === null) return () => null;
  const before = treeCpu(pid);
  return () => {
    const now = treeCpu(pid);
    return { user: now.user - before.user, kernel: now.kernel - before.kernel };
  };
}

/** A currently free TCP port on 127.0.0.1 (the OS picks it; we release it right away). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
