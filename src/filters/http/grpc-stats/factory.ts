/** Registry entry of `envoy.filters.http.grpc_stats`. */
import type { HttpFilterFactory } from '../api';
import { parseGrpcStats, type GrpcStatsConfig } from './config';
import {
  GRPC_STATS_COUNTERS,
  GRPC_STATS_HISTOGRAMS,
  GRPC_STATUS_COUNTERS,
  createGrpcStatsFilterFactory,
  grpcStatPrefixes,
} from './filter';

export const grpcStatsFactory: HttpFilterFactory<GrpcStatsConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.grpc_stats',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig'],
  parseConfig: parseGrpcStats,
  declareStats(config, layout, routeClusters) {
    for (const cluster of routeClusters) {
      for (const prefix of grpcStatPrefixes(config, cluster)) {
        layout.declareAll(prefix, GRPC_STATS_COUNTERS, 'counter');
        // Like Envoy's, which makes each on first use.
        layout.declareAll(prefix, GRPC_STATUS_COUNTERS, 'counter', true);
        if (config.upstreamStats) layout.declareHistograms(prefix, GRPC_STATS_HISTOGRAMS);
      }
    }
  },
  createFilterFactory: createGrpcStatsFilterFactory,
};
