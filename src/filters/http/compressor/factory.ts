/** Registry entry of `envoy.filters.http.compressor` (gzip and brotli libraries; response direction). */
import type { StatsStore } from '../../../stats/store';
import type { HttpFilterFactory } from '../api';
import { compressibleTypes, parseCompressor, type CompressorConfig } from './config';
import { CompressorFilter, type CompressorShared, type CompressorStats } from './filter';

/** Counters under `<hcm>compressor.<library name>.<gzip|brotli>.` (response ones under `response.`). */
const ROOT_COUNTERS = [
  'no_accept_header',
  'header_identity',
  'header_compressor_used',
  'header_wildcard',
  'header_not_valid',
  'not_compressed_etag',
] as const;
const RESPONSE_COUNTERS = [
  'compressed',
  'not_compressed',
  'content_length_too_small',
  'total_uncompressed_bytes',
  'total_compressed_bytes',
] as const;

function statPrefix(config: CompressorConfig, hcmStatPrefix: string): string {
  return `${hcmStatPrefix}compressor.${config.libraryName}.${config.library.kind}.`;
}

export const compressorFactory: HttpFilterFactory<CompressorConfig> = {
  category: 'http_filter',
  name: 'envoy.filters.http.compressor',
  typeUrls: ['type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor'],
  parseConfig: (reader) => parseCompressor(reader!),
  declareStats(config, layout, _clusters, hcmStatPrefix) {
    const prefix = statPrefix(config, hcmStatPrefix);
    layout.declareAll(prefix, ROOT_COUNTERS, 'counter');
    layout.declareAll(`${prefix}response.`, RESPONSE_COUNTERS, 'counter');
  },
  createFilterFactory(config, ctx) {
    const store = (ctx.services as { stats: StatsStore }).stats;
    const prefix = statPrefix(config, ctx.hcmStatPrefix);
    const counter = (name: string): ReturnType<StatsStore['counter']> => store.counter(prefix + name);
    const stats: CompressorStats = {
      noAcceptHeader: counter('no_accept_header'),
      headerIdentity: counter('header_identity'),
      headerCompressorUsed: counter('header_compressor_used'),
      headerWildcard: counter('header_wildcard'),
      headerNotValid: counter('header_not_valid'),
      notCompressedEtag: counter('not_compressed_etag'),
      compressed: counter('response.compressed'),
      notCompressed: counter('response.not_compressed'),
      contentLengthTooSmall: counter('response.content_length_too_small'),
      totalUncompressedBytes: counter('response.total_uncompressed_bytes'),
      totalCompressedBytes: counter('response.total_compressed_bytes'),
    };
    const shared: CompressorShared = {
      encoding: config.library.kind === 'gzip' ? 'gzip' : 'br',
      library: config.library,
      enabled: config.enabled,
      minContentLength: config.minContentLength,
      contentTypes: new Set(compressibleTypes(config)),
      disableOnEtagHeader: config.disableOnEtagHeader,
      removeAcceptEncodingHeader: config.removeAcceptEncodingHeader,
      stats,
    };
    return () => new CompressorFilter(shared);
  },
};
