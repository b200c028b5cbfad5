/**
 * The HTTP RBAC filter's config (`extensions.filters.http.rbac.v3.RBAC`: `rules`, `shadow_rules`,
 * their stat prefixes; per route `RBACPerRoute`).
 */
import type { ObjectReader } from '../../../config/config-reader';
import { rejectUnsupported } from '../../../config/unsupported';
import { parseRules, type RbacRules } from '../../common/rbac/policy';

export interface RbacConfig {
  /** null: nothing enforced. */
  rules: RbacRules | null;
  rulesStatPrefix: string;
  shadowRules: RbacRules | null;
  shadowRulesStatPrefix: string;
}

export function parseRbac(r: ObjectReader): RbacConfig {
  rejectUnsupported(r, ['matcher', 'shadow_matcher', 'track_per_rule_stats']);
  const rules = r.object('rules');
  const shadow = r.object('shadow_rules');
  return {
    rules: rules === null ? null : parseRules(rules),
    rulesStatPrefix: r.string('rules_stat_prefix', ''),
    shadowRules: shadow === null ? null : parseRules(shadow),
    shadowRulesStatPrefix: r.string('shadow_rules_stat_prefix', ''),
  };
}

/** `RBACPerRoute`: its `rbac`, or (absent) RBAC off for the route. */
export function parseRbacPerRoute(r: ObjectReader): RbacConfig {
  const rbac = r.object('rbac');
  return rbac === null
    ? { rules: null, rulesStatPrefix: '', shadowRules: null, shadowRulesStatPrefix: '' }
    : parseRbac(rbac);
}
