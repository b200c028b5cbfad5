/**
 * Reads an Envoy `RegexMatcher` (`{ regex, google_re2 }`). The pattern is checked with the same
 * RE2 → JS translator the route table compiles it with (`router/re2.ts`), and stored as written:
 * the data plane compiles it once per worker, anchored where Envoy's matcher is a full match.
 */
import type { ObjectReader } from '../config-reader';
import { validateRe2 } from '../../router/re2';

/** The RE2 pattern at `r.field`, or '' after reporting a problem (or when absent). */
export function readRegexMatcher(r: ObjectReader, field: string): string {
  const m = r.object(field);
  if (!m) return '';
  m.deprecated('google_re2', 'RE2 is the only engine; remove it');
  return readRegexString(m, 'regex');
}

/** Checks the RE2 pattern string at `r.field` (required) and returns it. */
export function readRegexString(r: ObjectReader, field: string): string {
  const pattern = r.requiredString(field);
  if (pattern === '') return '';
  const problem = validateRe2(pattern);
  if (problem === null) return pattern;
  r.error(
    field,
    `${problem} (Envoy regexes are RE2; Legate runs the subset that means the same in JavaScript)`,
  );
  return '';
}
