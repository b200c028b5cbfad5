/**
 * The buffer filter's config (`extensions.filters.http.buffer.v3.Buffer`: `max_request_bytes`) and
 * its per-route form (`BufferPerRoute`: `disabled`, or a `buffer` of its own).
 */
import type { ObjectReader } from '../../../config/config-reader';

export interface BufferConfig {
  /** 0 with `disabled`: the route's requests pass unbuffered. */
  maxRequestBytes: number;
  disabled: boolean;
}

export function parseBuffer(r: ObjectReader): BufferConfig {
  if (!r.has('max_request_bytes')) r.error('max_request_bytes', "missing required field 'max_request_bytes'");
  return { maxRequestBytes: r.wrappedUint('max_request_bytes', 0, { min: 1 }), disabled: false };
}

export function parseBufferPerRoute(r: ObjectReader): BufferConfig {
  const which = r.oneOf(['disabled', 'buffer'], true);
  if (which === 'buffer') return parseBuffer(r.requiredObject('buffer'));
  return { maxRequestBytes: 0, disabled: r.bool('disabled', false) };
}
