/** Registry entry of the downstream TLS transport socket (`envoy.transport_sockets.tls` + DownstreamTlsContext). */
import type { DownstreamTransportSocketFactory } from '../api';
import { parseDownstreamTlsContext, type DownstreamTlsConfig } from './config';
import { DownstreamTlsTransport } from './downstream';
import { declareSslStats } from './stats';

export const downstreamTlsFactory: DownstreamTransportSocketFactory<DownstreamTlsConfig> = {
  category: 'downstream_transport_socket',
  name: 'envoy.transport_sockets.tls',
  typeUrls: ['type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext'],
  parseConfig(reader) {
    if (!reader) throw new Error('tls: parseConfig needs a reader (common_tls_context is required)');
    return parseDownstreamTlsContext(reader);
  },
  declareStats(config, layout, prefix) {
    declareSslStats(layout, prefix, config.common);
  },
  createTransport(config, ctx) {
    return new DownstreamTlsTransport(config, ctx);
  },
};
