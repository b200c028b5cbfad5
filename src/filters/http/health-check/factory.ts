/** Registry entry of `envoy.filters.http.health_check`. */
import type { HttpFilterFactory } from '../api';
import { parseHealthCheck, type HealthCheckConfig } from './config';
import { createHealthCheckFilterFactory } from './filter';

export const healthCheckFactory: HttpFilterFactory<HealthCheckConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.health_check',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck'],
  aliases: ['envoy.health_check'],
  parseConfig: parseHealthCheck,
  createFilterFactory: createHealthCheckFilterFactory,
};
