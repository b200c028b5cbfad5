/** Registry entry of `envoy.filters.network.local_ratelimit`. */
import type { NetworkFilterFactory } from '../api';
import { parseNetworkLocalRateLimit, type NetworkLocalRateLimitConfig } from './config';
import {
  NETWORK_LOCAL_RATE_LIMIT_COUNTERS,
  NetworkLocalRateLimitFilter,
  networkLocalRateLimitStatPrefix,
} from './filter';

export const networkLocalRateLimitFactory: NetworkFilterFactory<NetworkLocalRateLimitConfig> = {
  category: 'network_filter',
  name: 'envoy.filters.network.local_ratelimit',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit'],
  connectionOnly: true,
  parseConfig(reader, ctx) {
    // The loader passes an empty reader for a missing typed_config, so required fields are reported.
    if (!reader)
      throw new Error(
        'local_ratelimit: parseConfig needs a reader (stat_prefix and token_bucket are required)',
      );
    return parseNetworkLocalRateLimit(reader, ctx);
  },
  declareStats(config, layout) {
    layout.declareAll(
      networkLocalRateLimitStatPrefix(config.statPrefix),
      NETWORK_LOCAL_RATE_LIMIT_COUNTERS,
      'counter',
    );
  },
  createFilter(config, ctx) {
    return new NetworkLocalRateLimitFilter(config, ctx);
  },
};
