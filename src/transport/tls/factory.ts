/**
 * Registry entries of the TLS transport socket, `envoy.transport_sockets.tls`: with a
 * DownstreamTlsContext on a listener's filter chain, with an UpstreamTlsContext on a cluster.
 */
import type { DownstreamTransportSocketFactory, UpstreamTransportSocketFactory } from '../api';
import {
  parseDownstreamTlsContext,
  parseUpstreamTlsContext,
  type DownstreamTlsConfig,
  type UpstreamTlsConfig,
} from './config';
import { upstreamTlsConnector } from './upstream';
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

export const upstreamTlsFactory: UpstreamTransportSocketFactory<UpstreamTlsConfig> = {
  category: 'upstream_transport_socket',
  name: 'envoy.transport_sockets.tls',
  typeUrls: ['type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext'],
  parseConfig(reader) {
    if (!reader) throw new Error('tls: parseConfig needs a reader');
    return parseUpstreamTlsContext(reader);
  },
  declareStats(config, layout, prefix) {
    declareSslStats(layout, prefix, config.common);
  },
  createConnector(config, ctx) {
    return upstreamTlsConnector(config, ctx);
  },
};
