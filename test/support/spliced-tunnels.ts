/**
 * Whether a Legate process moves its tunnels with the splice relay, seen from outside: a spliced
 * tunnel holds two pipes (four pipe fds) in the process while it is open (http/tunnel-splice.ts).
 * A tunnel is offered to the relay once SPLICE_AFTER_BYTES passed through JS: tests send
 * `SPLICE_FILL` first.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { addonActive } from '../l4/fixtures';
import { SPLICE_AFTER_BYTES } from '../../src/http/tunnel-splice';

/** Enough bytes (echoed: twice as many) for a tunnel to be offered to the relay. */
export const SPLICE_FILL = 'f'.repeat(SPLICE_AFTER_BYTES);

/** Pipe fds open in process `pid`. */
export function pipeFdCount(pid: number): number {
  let pipes = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('pipe:')) pipes++;
    } catch {
      // closed since the listing
    }
  }
  return pipes;
}

/** Pipe fds per spliced tunnel: one pipe each way. */
export const PIPE_FDS_PER_SPLICED_TUNNEL = 4;

/** Whether tunnels are spliced in this pass: the addon is on (not LEGATE_NATIVE=0) and this is Linux. */
export function tunnelsSpliced(): boolean {
  return process.platform === 'linux' && addonActive();
}

/**
 * Waits (5 s at most) until process `pid` holds the pipes of `n` spliced tunnels beyond `basePipes`
 * when this pass splices tunnels, and none beyond it when it does not.
 */
export async function expectSplicedTunnels(pid: number, basePipes: number, n: number): Promise<void> {
  const want = basePipes + (tunnelsSpliced() ? n * PIPE_FDS_PER_SPLICED_TUNNEL : 0);
  const deadline = Date.now() + 5000;
  for (let pipes = pipeFdCount(pid); pipes !== want; pipes = pipeFdCount(pid)) {
    if (Date.now() > deadline)
      throw new Error(
        `${pipes - basePipes} pipe fds beyond the ${basePipes} before, not ${want - basePipes} (${n} tunnels)`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}
