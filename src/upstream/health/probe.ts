/** One kind of active check against one host (HTTP or TCP), as the checker drives it. */
import type { CheckOutcome } from './health-state';

export interface Probe {
  /** Runs one check; resolves (never rejects) within about `timeoutMs`. */
  check(timeoutMs: number): Promise<CheckOutcome>;
  /** Releases a kept connection; no check runs afterwards. */
  close(): void;
}
