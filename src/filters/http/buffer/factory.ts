/** Registry entry of `envoy.filters.http.buffer` (per route: `BufferPerRoute`). */
import type { HttpFilterFactory } from '../api';
import { parseBuffer, parseBufferPerRoute, type BufferConfig } from './config';
import { BufferFilter } from './filter';

export const bufferFactory: HttpFilterFactory<BufferConfig, BufferConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.buffer',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer'],
  perRouteTypeUrls: ['type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute'],
  aliases: ['envoy.buffer'],
  parseConfig: (reader) => parseBuffer(reader!),
  parsePerRouteConfig: (reader) => parseBufferPerRoute(reader),
  createFilterFactory(config, ctx) {
    return () => new BufferFilter(ctx.configName, config);
  },
};
