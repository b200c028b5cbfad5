/**
 * One upstream endpoint as a worker sees it (Envoy's `Host`): an IP literal and port (DNS names are
 * resolved before a Host exists), its load-balancing weight and priority, and the global slot in
 * the shared host table where every worker counts its active requests and connections.
 *
 * Host objects are created when a cluster's host set is built or re-resolved and are kept for as long
 * as the address stays in the set, so pools and LBs can hold them by reference.
 */
export class Host {
  /** `address:port` (IPv6 addresses in brackets), for logs, /clusters and set comparison. */
  readonly key: string;
  /**
   * Health flag. Health checking is a later issue; the LB reads this flag when it is built, so a
   * checker that flips it must ask the cluster to rebuild its LB (`Cluster.onHostHealthChanged`).
   */
  healthy = true;

  constructor(
    /** Index into the shared HostTable (global across clusters and workers). */
    readonly slot: number,
    /** An IP literal. */
    readonly address: string,
    readonly port: number,
    /** load_balancing_weight, >= 1. */
    readonly weight: number,
    /** 0 is the highest priority. */
    readonly priority: number,
    /** False when the endpoint's `health_status` (from EDS, say) takes it out of load balancing. */
    readonly edsHealthy = true,
  ) {
    this.key = hostKey(address, port);
  }
}

export function hostKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
