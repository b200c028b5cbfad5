/** The network RBAC filter's config (`extensions.filters.network.rbac.v3.RBAC`). */
import type { ObjectReader } from '../../../config/config-reader';
import { rejectUnsupported } from '../../../config/unsupported';
import { parseRules, type RbacRules } from '../../common/rbac/policy';

export interface NetworkRbacConfig {
  statPrefix: string;
  rules: RbacRules | null;
  shadowRules: RbacRules | null;
  shadowRulesStatPrefix: string;
}

export function parseNetworkRbac(r: ObjectReader): NetworkRbacConfig {
  rejectUnsupported(r, ['matcher', 'shadow_matcher', 'delay_deny']);
  // Legate decides when the connection arrives (its addresses and SNI are known then), which is
  // what ONE_TIME_ON_FIRST_BYTE decides too; CONTINUOUS re-checks what cannot change at L4.
  r.enumValue(
    'enforcement_type',
    ['ONE_TIME_ON_FIRST_BYTE', 'CONTINUOUS'] as const,
    'ONE_TIME_ON_FIRST_BYTE',
  );
  const rules = r.object('rules');
  const shadow = r.object('shadow_rules');
  return {
    statPrefix: r.requiredString('stat_prefix'),
    rules: rules === null ? null : parseRules(rules),
    shadowRules: shadow === null ? null : parseRules(shadow),
    shadowRulesStatPrefix: r.string('shadow_rules_stat_prefix', ''),
  };
}
