/**
 * Envoy fields Legate knows of but does not implement yet. Each parser lists them next to the
 * fields it reads, so using one is a clear "not supported by Legate yet" error rather than an
 * "unknown field" (or, worse, silently ignored).
 */
import type { ObjectReader } from './config-reader';

export function rejectUnsupported(r: ObjectReader, fields: readonly string[]): void {
  for (const field of fields) r.unsupported(field);
}
