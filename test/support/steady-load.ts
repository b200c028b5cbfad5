/**
 * A steady keep-alive load that reconnects (Node's agent): for config changes while traffic flows,
 * where a replaced listener closes its connections after their next response.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { request } from '../integration/harness';

/**
 * `workers` keep-alive clients, each sending one request every `gapMs` until stopped: every
 * response must be a 200 from origin A or B (or the direct response); anything else is a failure.
 */
export function steadyLoad(
  port: number,
  workers: number,
  gapMs: number,
): { stop(): Promise<{ ok: number; failures: string[] }> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: workers }, async () => {
    for (let i = 0; running && i < 100_000; i++) {
      try {
        const r = await request(port, { agent, path: `/load/${i}` });
        if (r.status === 200) ok++;
        else failures.push(`status ${r.status}: ${r.body.toString().slice(0, 100)}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failures };
    },
  };
}

/** Every request of a steady load was answered 200, and there were at least `minimum` of them. */
export function assertAllAnswered(result: { ok: number; failures: string[] }, minimum: number): void {
  const { ok, failures } = result;
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
  assert.ok(ok > minimum, `the load ran (${ok} requests)`);
}
