/**
 * What STRICT_DNS and LOGICAL_DNS share: resolve every `dns_refresh_rate`, turn the answer into
 * hosts (reusing the Host object, and so its pool, of every address that stays), and report the set
 * only when it changed. Rounds never overlap: the next one is scheduled when the last one ends.
 * A failed lookup keeps the previous answer (Envoy does the same), so a DNS hiccup drops no host.
 */
import { isIP } from 'node:net';
import type { ClusterConfig } from '../../config/bootstrap';
import { Host, hostKey } from '../host';
import type { ClusterSlots, HostTable } from '../host-table';
import type { DnsResolver, HostDiscovery } from './api';

/** One address an endpoint resolved to, with the endpoint's LB attributes. */
export interface ResolvedAddress {
  address: string;
  port: number;
  weight: number;
  priority: number;
}

export abstract class DnsDiscovery implements HostDiscovery {
  private current: Host[] = [];
  /** Hosts of the current set by `key/weight/priority`, so an unchanged address keeps its Host. */
  private byIdentity = new Map<string, Host>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    protected readonly config: ClusterConfig,
    private readonly slots: ClusterSlots,
    private readonly table: HostTable,
    private readonly resolver: DnsResolver,
  ) {}

  /** The addresses of an endpoint name; an IP literal is its own answer, without a lookup. */
  protected lookup(name: string): Promise<string[]> {
    if (isIP(name)) return Promise.resolve([name]);
    return this.resolver(name, this.config.dnsLookupFamily);
  }

  /** One resolution round: the full address list, or null to keep the previous hosts. */
  protected abstract resolveAll(): Promise<ResolvedAddress[] | null>;

  start(onHosts: (hosts: Host[]) => void, onFirstResult: () => void): void {
    let first = true;
    const round = async (): Promise<void> => {
      const resolved = await this.resolveAll();
      if (this.stopped) return;
      if (resolved !== null) this.apply(resolved, onHosts);
      if (first) {
        first = false;
        onFirstResult();
      }
      this.timer = setTimeout(() => void round(), this.config.dnsRefreshRateMs);
      this.timer.unref();
    };
    void round();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private apply(resolved: ResolvedAddress[], onHosts: (hosts: Host[]) => void): void {
    const next: Host[] = [];
    const byIdentity = new Map<string, Host>();
    for (const r of resolved) {
      const key = hostKey(r.address, r.port);
      const identity = `${key}/${r.weight}/${r.priority}`;
      if (byIdentity.has(identity)) continue; // the same address listed twice
      const host =
        this.byIdentity.get(identity) ??
        new Host(this.table.claimSlot(this.slots, key), r.address, r.port, r.weight, r.priority);
      byIdentity.set(identity, host);
      next.push(host);
    }
    const changed = next.length !== this.current.length || next.some((h, i) => h !== this.current[i]);
    this.byIdentity = byIdentity;
    if (!changed) return;
    this.current = next;
    onHosts(next);
  }
}
