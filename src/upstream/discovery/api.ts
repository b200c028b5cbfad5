/**
 * How a cluster learns its hosts: one discovery per cluster type (STATIC, STRICT_DNS, LOGICAL_DNS),
 * each in its own file. A discovery reports complete host sets; the cluster swaps them in at once
 * (new LB, removed hosts' pools drained), so a pick never sees a half-updated set.
 */
import type { Host } from '../host';

export interface HostDiscovery {
  /**
   * Starts discovery. `onHosts` receives each new host set (only when it changed); a Host object
   * is reused for as long as its address stays in the set. `onFirstResult` fires once, after the
   * first resolution finished (even if it failed), so workers can wait for clusters to warm up.
   */
  start(onHosts: (hosts: Host[]) => void, onFirstResult: () => void): void;
  /** Stops timers; no callback fires afterwards. */
  stop(): void;
}

/** All addresses of a hostname for one lookup family (injectable so tests can change DNS answers). */
export type DnsResolver = (hostname: string, family: DnsLookupFamily) => Promise<string[]>;

export type DnsLookupFamily = 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
