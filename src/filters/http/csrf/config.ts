/**
 * The CSRF filter's policy (`extensions.filters.http.csrf.v3.CsrfPolicy`), for the filter and per
 * route (the same type): `filter_enabled` (required) and `shadow_enabled` fractions, and the
 * `additional_origins` trusted besides the request's own.
 */
import type { StringMatcher } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { runtimeFractionalPercent } from '../../../config/runtime';
import { parseStringMatcher } from '../../../config/route/string-matcher';

export interface CsrfPolicy {
  enabledFraction: number;
  shadowFraction: number;
  additionalOrigins: StringMatcher[];
}

export function parseCsrfPolicy(r: ObjectReader): CsrfPolicy {
  if (!r.has('filter_enabled')) r.error('filter_enabled', "missing required field 'filter_enabled'");
  return {
    enabledFraction: runtimeFractionalPercent(r, 'filter_enabled', 0),
    shadowFraction: runtimeFractionalPercent(r, 'shadow_enabled', 0),
    additionalOrigins: r.objectArray('additional_origins').map(parseStringMatcher),
  };
}
