/** Envoy's `type.matcher.v3.StringMatcher`, used by header and query parameter matchers. */
import type { StringMatcher } from '../bootstrap';
import type { ObjectReader } from '../config-reader';
import { readRegexMatcher } from './regex-field';

const KINDS = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

export function parseStringMatcher(r: ObjectReader): StringMatcher {
  r.unsupported('custom');
  const kind = (r.oneOf(KINDS, true) ?? 'exact') as StringMatcher['kind'];
  const ignoreCase = r.bool('ignore_case', false);
  if (kind === 'safe_regex') {
    if (ignoreCase) r.warn('ignore_case', 'has no effect on safe_regex (as in Envoy)');
    return { kind, value: readRegexMatcher(r, 'safe_regex'), ignoreCase: false };
  }
  const value = r.string(kind);
  if (value === '' && kind !== 'exact') r.error(kind, 'must not be empty');
  return { kind, value, ignoreCase };
}
