/**
 * The compressor filter's config (`extensions.filters.http.compressor.v3.Compressor`) and its
 * compression libraries (`compressor_library`: gzip, `compression.gzip.compressor.v3.Gzip`, and
 * brotli, `compression.brotli.compressor.v3.Brotli`), with Envoy's defaults. Response direction only:
 * request compression (`request_direction_config` enabled) is refused as not supported yet.
 */
import type { ObjectReader } from '../../../config/config-reader';
import { runtimeFeatureFlag } from '../../../config/runtime';
import { rejectUnsupported } from '../../../config/unsupported';

export type CompressionLibrary =
  | {
      kind: 'gzip';
      level: number;
      memLevel: number;
      windowBits: number;
      strategy: number;
      chunkSize: number;
    }
  | {
      kind: 'brotli';
      quality: number;
      windowBits: number;
      inputBlockBits: number;
      mode: number;
      disableLiteralContextModeling: boolean;
      chunkSize: number;
    };

export interface CompressorConfig {
  /** `compressor_library.name` (part of the stat prefix). */
  libraryName: string;
  library: CompressionLibrary;
  enabled: boolean;
  minContentLength: number;
  /** Lower-cased media types (no parameters). */
  contentTypes: string[];
  disableOnEtagHeader: boolean;
  removeAcceptEncodingHeader: boolean;
}

/** Envoy's default compressible types. */
const DEFAULT_CONTENT_TYPES = [
  'application/javascript',
  'application/json',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/css',
  'text/html',
  'text/plain',
  'text/xml',
];

const GZIP_TYPE = 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip';
const BROTLI_TYPE = 'type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli';

/** zlib's levels by Envoy's CompressionLevel names. */
const GZIP_LEVELS: Record<string, number> = {
  DEFAULT_COMPRESSION: 6,
  BEST_SPEED: 1,
  BEST_COMPRESSION: 9,
  ...Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [`COMPRESSION_LEVEL_${n}`, n])),
};
/** zlib's Z_DEFAULT_STRATEGY … Z_FIXED by Envoy's CompressionStrategy names. */
const GZIP_STRATEGIES: Record<string, number> = {
  DEFAULT_STRATEGY: 0,
  FILTERED: 1,
  HUFFMAN_ONLY: 2,
  RLE: 3,
  FIXED: 4,
};
/** BROTLI_MODE_* by Envoy's EncoderMode names. */
const BROTLI_MODES: Record<string, number> = { DEFAULT: 0, GENERIC: 0, TEXT: 1, FONT: 2 };

export function parseCompressor(r: ObjectReader): CompressorConfig {
  rejectUnsupported(r, ['choose_first', 'per_route']);
  const response = r.object('response_direction_config');
  const common = response?.object('common_config') ?? null;
  parseRequestDirection(r.object('request_direction_config'));
  // The fields Envoy moved into response_direction_config, still read where they used to be.
  const legacy = (field: string): boolean => r.deprecated(field, 'use response_direction_config');
  const libraryReader = r.requiredObject('compressor_library');
  return {
    libraryName: libraryReader.requiredString('name'),
    library: parseLibrary(libraryReader),
    enabled: common ? runtimeFeatureFlag(common, 'enabled', true) : true,
    minContentLength: legacy('content_length')
      ? r.wrappedUint('content_length', 30)
      : (common?.wrappedUint('min_content_length', 30) ?? 30),
    contentTypes: (legacy('content_type')
      ? r.stringArray('content_type')
      : (common?.stringArray('content_type') ?? [])
    ).map((t) => t.trim().toLowerCase()),
    disableOnEtagHeader: legacy('disable_on_etag_header')
      ? r.bool('disable_on_etag_header', false)
      : (response?.bool('disable_on_etag_header', false) ?? false),
    removeAcceptEncodingHeader: legacy('remove_accept_encoding_header')
      ? r.bool('remove_accept_encoding_header', false)
      : (response?.bool('remove_accept_encoding_header', false) ?? false),
  };
}

/** The media types a config compresses: its own list, or Envoy's defaults when it gives none. */
export function compressibleTypes(c: CompressorConfig): readonly string[] {
  return c.contentTypes.length > 0 ? c.contentTypes : DEFAULT_CONTENT_TYPES;
}

function parseRequestDirection(r: ObjectReader | null): void {
  if (r === null) return;
  const common = r.object('common_config');
  if (common !== null && !runtimeFeatureFlag(common, 'enabled', true)) return;
  r.error('', 'request compression is not supported by Legate yet (set common_config.enabled to false)');
}

function parseLibrary(r: ObjectReader): CompressionLibrary {
  const typed = r.requiredObject('typed_config');
  const type = typed.requiredString('@type');
  if (type === GZIP_TYPE) {
    return {
      kind: 'gzip',
      level:
        GZIP_LEVELS[typed.enumValue('compression_level', Object.keys(GZIP_LEVELS), 'DEFAULT_COMPRESSION')]!,
      memLevel: typed.wrappedUint('memory_level', 5, { min: 1, max: 9 }),
      windowBits: typed.wrappedUint('window_bits', 12, { min: 9, max: 15 }),
      strategy:
        GZIP_STRATEGIES[
          typed.enumValue('compression_strategy', Object.keys(GZIP_STRATEGIES), 'DEFAULT_STRATEGY')
        ]!,
      chunkSize: typed.wrappedUint('chunk_size', 4096, { min: 4096, max: 65536 }),
    };
  }
  if (type === BROTLI_TYPE) {
    return {
      kind: 'brotli',
      quality: typed.wrappedUint('quality', 3, { max: 11 }),
      windowBits: typed.wrappedUint('window_bits', 18, { min: 10, max: 24 }),
      inputBlockBits: typed.wrappedUint('input_block_bits', 24, { min: 16, max: 24 }),
      mode: BROTLI_MODES[typed.enumValue('encoder_mode', Object.keys(BROTLI_MODES), 'DEFAULT')]!,
      disableLiteralContextModeling: typed.bool('disable_literal_context_modeling', false),
      chunkSize: typed.wrappedUint('chunk_size', 4096, { min: 4096, max: 65536 }),
    };
  }
  typed.error(
    '@type',
    `unknown compressor library '${type}' (Legate has gzip and brotli)`,
    `use ${GZIP_TYPE}`,
  );
  return { kind: 'gzip', level: 6, memLevel: 5, windowBits: 12, strategy: 0, chunkSize: 4096 };
}
