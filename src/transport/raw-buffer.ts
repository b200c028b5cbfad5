/**
 * `envoy.transport_sockets.raw_buffer`: plaintext, what a listener's filter chain or a cluster
 * uses when it names no transport socket. The config keeps no transport for it.
 */
import type { DownstreamTransportSocketFactory, UpstreamTransportSocketFactory } from './api';

const RAW_BUFFER = {
  name: 'envoy.transport_sockets.raw_buffer',
  typeUrls: ['type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer'],
  plaintext: true,
  parseConfig: (): null => null,
} as const;

export const rawBufferFactory: DownstreamTransportSocketFactory<null> = {
  ...RAW_BUFFER,
  category: 'downstream_transport_socket',
  createTransport: () => null,
};

export const upstreamRawBufferFactory: UpstreamTransportSocketFactory<null> = {
  ...RAW_BUFFER,
  category: 'upstream_transport_socket',
  createConnector() {
    throw new Error('raw_buffer is plaintext: the cluster keeps its default connector');
  },
};
