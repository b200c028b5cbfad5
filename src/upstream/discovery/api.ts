/**
 * How a cluster learns its hosts: each cluster type (Envoy's `type` enum: STATIC, STRICT_DNS,
 * LOGICAL_DNS) is an extension registered under its enum name (`ClusterTypeFactory`, one file each),
 * which says how its endpoints are written and how many host-table rows it needs, and creates its
 * discovery. A discovery reports complete host sets; the cluster swaps them in at once (new LB,
 * removed hosts' pools drained), so a pick never sees a half-updated set.
 */
import type { ClusterConfig, EndpointConfig } from '../../config/bootstrap';
import type { ExtensionFactory } from '../../registry/registry';
import type { Host } from '../host';
import type { ClusterSlots, HostTable } from '../host-table';

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

/** A cluster type (Envoy's ClusterFactory), found by its `type` enum name. */
export interface ClusterTypeFactory extends ExtensionFactory<null> {
  readonly category: 'cluster_type';
  /** The cluster `type` value that selects it, e.g. 'STRICT_DNS'. */
  readonly enumName: string;
  /** `ip`: endpoints are IP literals; `hostname`: names DNS resolves (IP literals too). */
  readonly endpointAddresses: 'ip' | 'hostname';
  /** How many endpoints the type takes, when fixed (LOGICAL_DNS: 1). */
  readonly exactEndpoints?: number;
  /**
   * Whether each endpoint is one host in its own host-table row (row = first + endpoint index), so
   * per-endpoint facts (health_check_config.port_value, /clusters rows) apply to hosts.
   */
  readonly slotPerEndpoint: boolean;
  /** Host-table rows a cluster of this type with these endpoints needs. */
  slotCapacity(endpoints: readonly EndpointConfig[]): number;
  createDiscovery(
    config: ClusterConfig,
    slots: ClusterSlots,
    table: HostTable,
    resolver: DnsResolver,
  ): HostDiscovery;
}

export function isClusterTypeFactory(f: ExtensionFactory): f is ClusterTypeFactory {
  return (
    f.category === 'cluster_type' && typeof (f as Partial<ClusterTypeFactory>).createDiscovery === 'function'
  );
}
