/** Registry entry of `envoy.filters.http.local_ratelimit`. */
import type { StatsLayout } from '../../../stats/store';
import type { HttpFilterFactory } from '../api';
import { parseLocalRateLimit, parseLocalRateLimitPerRoute, type LocalRateLimitConfig } from './config';
import {
  LOCAL_RATE_LIMIT_COUNTERS,
  createLocalRateLimitFilterFactory,
  localRateLimitStatPrefix,
} from './filter';

function declareStats(config: LocalRateLimitConfig, layout: StatsLayout): void {
  layout.declareAll(localRateLimitStatPrefix(config.statPrefix), LOCAL_RATE_LIMIT_COUNTERS, 'counter');
}

export const localRateLimitFactory: HttpFilterFactory<LocalRateLimitConfig, LocalRateLimitConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.local_ratelimit',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit'],
  parseConfig: parseLocalRateLimit,
  parsePerRouteConfig: parseLocalRateLimitPerRoute,
  declareStats,
  declarePerRouteStats: declareStats,
  // Envoy's filter computes descriptors only when it has some to match them against.
  rateLimitStage: (config) => (config.descriptors.length > 0 ? config.stage : null),
  createFilterFactory: createLocalRateLimitFilterFactory,
};
