/**
 * LOGICAL_DNS: one host, the first address the (single) endpoint's name resolves to (Envoy's logical
 * DNS cluster, for large DNS-balanced services where connecting to every address is wasteful).
 * When the first address changes, the new address becomes the host and the old host's pool drains:
 * requests in flight finish on their connections, new requests connect to the new address.
 */
import type { ResolvedAddress } from './dns-discovery';
import { DnsDiscovery } from './dns-discovery';
import type { ClusterTypeFactory } from './api';
import { LOGICAL_DNS_SLOTS } from '../host-table';

export class LogicalDnsDiscovery extends DnsDiscovery {
  protected async resolveAll(): Promise<ResolvedAddress[] | null> {
    const endpoint = this.config.endpoints[0];
    if (endpoint === undefined) return [];
    try {
      const answer = await this.lookup(endpoint.address.address);
      if (answer.length === 0) return null;
      return [
        {
          address: answer[0]!,
          port: endpoint.address.port,
          weight: endpoint.weight,
          priority: endpoint.priority,
        },
      ];
    } catch {
      return null;
    }
  }
}

export const logicalDnsClusterFactory: ClusterTypeFactory = {
  category: 'cluster_type',
  name: 'envoy.cluster.logical_dns',
  typeUrls: [],
  enumName: 'LOGICAL_DNS',
  endpointAddresses: 'hostname',
  exactEndpoints: 1,
  slotPerEndpoint: false,
  parseConfig: () => null,
  slotCapacity: () => LOGICAL_DNS_SLOTS,
  createDiscovery: (config, slots, table, resolver) =>
    new LogicalDnsDiscovery(config, slots, table, resolver),
};
