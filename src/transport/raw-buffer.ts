/** `envoy.transport_sockets.raw_buffer`: plaintext, the chain's default when it names no transport socket. */
import type { DownstreamTransportSocketFactory } from './api';

export const rawBufferFactory: DownstreamTransportSocketFactory<null> = {
  category: 'downstream_transport_socket',
  name: 'envoy.transport_sockets.raw_buffer',
  typeUrls: ['type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer'],
  plaintext: true,
  parseConfig() {
    return null;
  },
  createTransport() {
    return null;
  },
};
