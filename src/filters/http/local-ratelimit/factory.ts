/** Registry entry of `envoy.filters.http.local_ratelimit`. */
import type { HttpFilterFactory } from '../api';
import { parseLocalRateLimit, type LocalRateLimitConfig } from './config';
import {
  LOCAL_RATE_LIMIT_COUNTERS,
  createLocalRateLimitFilterFactory,
  localRateLimitStatPrefix,
} from './filter';

export const localRateLimitFactory: HttpFilterFactory<LocalRateLimitConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.local_ratelimit',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit'],
  parseConfig: parseLocalRateLimit,
  declareStats(config, layout) {
    layout.declareAll(localRateLimitStatPrefix(config.statPrefix), LOCAL_RATE_LIMIT_COUNTERS, 'counter');
  },
  createFilterFactory: createLocalRateLimitFilterFactory,
};
