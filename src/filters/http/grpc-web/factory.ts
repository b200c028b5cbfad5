/** Registry entry of `envoy.filters.http.grpc_web` (its config message has no fields). */
import type { HttpFilterFactory } from '../api';
import { createGrpcWebFilterFactory } from './filter';

export const grpcWebFactory: HttpFilterFactory<Record<string, never>> = {
  category: 'http_filter',
  name: 'envoy.filters.http.grpc_web',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb'],
  aliases: ['envoy.grpc_web'],
  parseConfig: () => ({}),
  createFilterFactory: createGrpcWebFilterFactory,
};
