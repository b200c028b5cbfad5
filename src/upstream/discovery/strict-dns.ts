/**
 * STRICT_DNS: every address of every endpoint's name is a host (Envoy's strict DNS cluster). Names
 * resolve in parallel; an endpoint whose lookup fails keeps its previous addresses. IP literals are
 * used as they are, without a lookup.
 */
import type { ResolvedAddress } from './dns-discovery';
import { DnsDiscovery } from './dns-discovery';

export class StrictDnsDiscovery extends DnsDiscovery {
  /** Last good answer per endpoint, in endpoint order. */
  private lastAnswers: string[][] = this.config.endpoints.map(() => []);

  protected async resolveAll(): Promise<ResolvedAddress[]> {
    const endpoints = this.config.endpoints;
    const answers = await Promise.all(
      endpoints.map((e, i) => this.lookup(e.address.address).catch(() => this.lastAnswers[i]!)),
    );
    this.lastAnswers = answers;
    const out: ResolvedAddress[] = [];
    endpoints.forEach((e, i) => {
      for (const address of answers[i]!)
        out.push({ address, port: e.address.port, weight: e.weight, priority: e.priority });
    });
    return out;
  }
}
