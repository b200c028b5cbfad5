/**
 * EDS clusters (`type: EDS`, `eds_cluster_config`): the endpoints come from a
 * ClusterLoadAssignment the primary reads from an xDS file (worker/dynamic-resources.ts) and puts
 * in the cluster's config, so a worker's discovery serves them as STATIC does: IP literals, each
 * endpoint one host in its own row. A new assignment is a new cluster config, applied as a reload
 * applies one (the cluster is rebuilt and warmed before it serves).
 */
import type { ClusterTypeFactory } from './api';
import { StaticDiscovery } from './static';

export const edsClusterFactory: ClusterTypeFactory = {
  category: 'cluster_type',
  name: 'envoy.cluster.eds',
  typeUrls: [],
  enumName: 'EDS',
  endpointAddresses: 'ip',
  slotPerEndpoint: true,
  parseConfig: () => null,
  slotCapacity: (endpoints) => endpoints.length,
  createDiscovery: (config, slots) => new StaticDiscovery(config, slots),
};
