/** Shared by the outlier tests. */
import type { TestContext } from 'node:test';
import * as http from 'node:http';
import type { OutlierDetectionConfig } from '../../src/config/bootstrap';
import { loadOk, minimalConfig } from '../config/helpers';
import { catchAllYaml, startLegate, type LegateProcess } from '../integration/harness';

/** `cluster.o.outlier_detection.`: the stats prefix of the cluster these tests proxy to. */
export const PREFIX = 'cluster.o.outlier_detection.';

/** Polls an async condition (admin reads) every 20 ms until it holds, or throws after `timeoutMs`. */
export async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `outlier_detection: { <fields> }` as Legate reads it: Envoy's defaults for the rest. */
export function outlierConfig(fields = ''): OutlierDetectionConfig {
  return loadOk(minimalConfig({ cluster: `outlier_detection: { ${fields} }` })).clusters[0]!
    .outlierDetection!;
}

export interface OutlierProxy {
  lp: LegateProcess;
  /** The proxy listener's port. */
  port: number;
  /** Keep-alive, one socket per worker. */
  agent: http.Agent;
}

/**
 * Legate with `concurrency` workers sending every request to cluster `o` (the origins at `ports`,
 * with `clusterExtra` fields such as outlier_detection), and a keep-alive agent; both are torn
 * down after the test.
 */
export async function outlierProxy(
  t: TestContext,
  ports: number[],
  clusterExtra: string,
  concurrency: number,
): Promise<OutlierProxy> {
  const lp = await startLegate(catchAllYaml(ports, { clusterExtra }), { concurrency });
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  t.after(async () => {
    agent.destroy();
    await lp.stop();
  });
  return { lp, port: lp.ports.get('proxy')!, agent };
}
