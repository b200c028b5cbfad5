/** Shared by the outlier end-to-end tests. */

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
