/**
 * STRICT_DNS: every address of every endpoint's name is a host (Envoy's strict DNS cluster). Names
 * resolve in parallel; an endpoint whose lookup fails keeps its previous addresses. IP literals are
 * used as they are, without a lookup.
 */
import type { ResolvedAddress } from './dns-discovery';
import { DnsDiscovery } from './dns-discovery';
import type { ClusterTypeFactory } from './api';
import { DNS_SLOTS_PER_ENDPOINT } from '../host-table';

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

export const strictDnsClusterFactory: ClusterTypeFactory = {
  category: 'cluster_type',
  name: 'envoy.cluster.strict_dns',
  typeUrls: [],
  enumName: 'STRICT_DNS',
  endpointAddresses: 'hostname',
  slotPerEndpoint: false,
  parseConfig: () => null,
  slotCapacity: (endpoints) => endpoints.length * DNS_SLOTS_PER_ENDPOINT,
  createDiscovery: (config, slots, table, resolver) => new StrictDnsDiscovery(config, slots, table, resolver),
};
