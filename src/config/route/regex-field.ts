/** Reads an Envoy `RegexMatcher` (`{ regex, google_re2 }`) and checks it is RE2-compatible. */
import type { ObjectReader } from '../config-reader';
import { translateRe2 } from '../regex';

/** The JS source of the regex at `r.field`, or '' after reporting a problem (or when absent). */
export function readRegexMatcher(r: ObjectReader, field: string): string {
  const m = r.object(field);
  if (!m) return '';
  m.deprecated('google_re2', 'RE2 is the only engine; remove it');
  return readRegexString(m, 'regex');
}

/** Checks the RE2 pattern string at `r.field` (required) and returns its JS source. */
export function readRegexString(r: ObjectReader, field: string): string {
  const pattern = r.requiredString(field);
  if (pattern === '') return '';
  const result = translateRe2(pattern);
  if (result.ok) return result.source;
  r.error(field, result.message, result.hint);
  return '';
}
