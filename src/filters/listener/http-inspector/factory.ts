/** Registry entry of `envoy.filters.listener.http_inspector` (it has no settings). */
import type { ListenerFilterFactory } from '../api';
import { declareHttpInspectorStats, HttpInspector } from './inspector';

export const httpInspectorFactory: ListenerFilterFactory<null> = {
  category: 'listener_filter',
  name: 'envoy.filters.listener.http_inspector',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector'],
  aliases: ['envoy.listener.http_inspector'],
  parseConfig: () => null,
  declareStats(_config, layout) {
    declareHttpInspectorStats(layout);
  },
  createFilter(_config, stats) {
    return new HttpInspector(stats);
  },
};
