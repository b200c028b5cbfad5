/**
 * The piscina task: one generator thread for the whole run. Talks to the main thread over the
 * MessagePort it was handed: `ready` (connections are up, or the connect error), then waits for
 * `start` (a common wall-clock start for all threads) or `abort`; posts `progress` every 250 ms; a
 * `stop` message ends the run early. Resolves with the thread's `ThreadResult` (null if aborted).
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { LoadThread, type LoadThreadConfig } from './load-thread';
import { totalErrors } from './error-counts';
import type { ThreadResult } from './run-stats';

export interface LoadTask extends LoadThreadConfig {
  control: MessagePort;
}

/** Messages from a generator thread to the main thread. */
export type WorkerMessage =
  | { type: 'ready'; error: string | null }
  | { type: 'progress'; requests: number; errors: number; bytesRead: number };

/** Messages from the main thread to a generator thread. */
export type ControlMessage = { type: 'start'; atEpochMs: number } | { type: 'abort' } | { type: 'stop' };

const PROGRESS_INTERVAL_MS = 250;

export async function runLoadTask(task: LoadTask): Promise<ThreadResult | null> {
  const { control, ...config } = task;
  const thread = new LoadThread(config);
  const error = await thread.warmUp();
  control.postMessage({ type: 'ready', error } satisfies WorkerMessage);
  const [first] = (await once(control, 'message')) as [ControlMessage];
  if (first.type !== 'start') {
    await thread.abort();
    control.close();
    return null;
  }
  control.on('message', (m: ControlMessage) => {
    if (m.type === 'stop') thread.stop();
  });
  const progress = setInterval(() => {
    const s = thread.stats;
    control.postMessage({
      type: 'progress',
      requests: s.requests,
      errors: totalErrors(s.errors),
      bytesRead: s.bytesRead,
    } satisfies WorkerMessage);
  }, PROGRESS_INTERVAL_MS);
  // Every thread converts the common wall-clock start into its own monotonic clock.
  const result = await thread.run(first.atEpochMs - performance.timeOrigin, first.atEpochMs);
  clearInterval(progress);
  control.close();
  return result;
}
