/** Registry entry of `envoy.filters.network.rbac`. */
import type { NetworkFilterFactory } from '../api';
import { parseNetworkRbac, type NetworkRbacConfig } from './config';
import { NetworkRbacFilter, networkRbacStatNames } from './filter';

export const networkRbacFactory: NetworkFilterFactory<NetworkRbacConfig> = {
  category: 'network_filter',
  name: 'envoy.filters.network.rbac',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC'],
  connectionOnly: true,
  parseConfig(reader) {
    if (!reader) throw new Error('rbac: parseConfig needs a reader (stat_prefix is required)');
    return parseNetworkRbac(reader);
  },
  declareStats(config, layout) {
    for (const name of networkRbacStatNames(config)) layout.declare(name, 'counter');
  },
  createFilter(config, ctx) {
    return new NetworkRbacFilter(config, ctx);
  },
};
