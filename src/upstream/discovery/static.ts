/**
 * STATIC clusters: the endpoints are IP literals fixed by the config (the config loader rejects
 * names), each in its own slot in endpoint order.
 */
import type { ClusterConfig } from '../../config/bootstrap';
import { Host } from '../host';
import type { ClusterSlots } from '../host-table';
import type { ClusterTypeFactory, HostDiscovery } from './api';

export class StaticDiscovery implements HostDiscovery {
  constructor(
    private readonly config: ClusterConfig,
    private readonly slots: ClusterSlots,
  ) {}

  start(onHosts: (hosts: Host[]) => void, onFirstResult: () => void): void {
    onHosts(
      this.config.endpoints.map(
        (e, i) =>
          new Host(
            this.slots.firstSlot + i,
            e.address.address,
            e.address.port,
            e.weight,
            e.priority,
            e.healthStatus === undefined,
          ),
      ),
    );
    onFirstResult();
  }

  stop(): void {}
}

export const staticClusterFactory: ClusterTypeFactory = {
  category: 'cluster_type',
  name: 'envoy.cluster.static',
  typeUrls: [],
  enumName: 'STATIC',
  endpointAddresses: 'ip',
  slotPerEndpoint: true,
  parseConfig: () => null,
  slotCapacity: (endpoints) => endpoints.length,
  createDiscovery: (config, slots) => new StaticDiscovery(config, slots),
};
