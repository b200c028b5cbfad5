/** Registry entry of `envoy.filters.listener.tls_inspector`. */
import type { ListenerFilterFactory } from '../api';
import { declareTlsInspectorStats, TlsInspector } from './inspector';

const UNSUPPORTED_FIELDS = [
  'enable_ja3_fingerprinting',
  'enable_ja4_fingerprinting',
  'initial_read_buffer_size',
  'max_client_hello_size',
  'close_connection_on_client_hello_parsing_errors',
] as const;

export const tlsInspectorFactory: ListenerFilterFactory<null> = {
  category: 'listener_filter',
  name: 'envoy.filters.listener.tls_inspector',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector'],
  aliases: ['envoy.listener.tls_inspector'],
  parseConfig(reader) {
    for (const field of UNSUPPORTED_FIELDS) reader?.unsupported(field);
    return null;
  },
  declareStats(_config, layout) {
    declareTlsInspectorStats(layout);
  },
  createFilter(_config, stats) {
    return new TlsInspector(stats);
  },
};
