/**
 * Envoy's RBAC policies (`config.rbac.v3.RBAC`), shared by the HTTP and network RBAC filters, parsed
 * on the primary into plain data. Supported permissions: `any`, `header`,
 * `url_path`, `destination_ip`, `destination_port`, `destination_port_range`, `requested_server_name`,
 * `and_rules`, `or_rules`, `not_rule`; principals: `any`, `authenticated`, `direct_remote_ip`,
 * `remote_ip`, `source_ip`, `header`, `url_path`, `and_ids`, `or_ids`, `not_id`. Anything else
 * (metadata, filter state, CEL conditions, matchers) is a config error naming it.
 */
import type { CidrRange, HeaderMatcher, StringMatcher } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { parseCidrRange } from '../../../config/filter-chain-match';
import { parseHeaderMatcher } from '../../../config/route/route-match';
import { parseStringMatcher } from '../../../config/route/string-matcher';
import { rejectUnsupported } from '../../../config/unsupported';

export type Permission =
  | { kind: 'any' }
  | { kind: 'header'; header: HeaderMatcher }
  | { kind: 'url_path'; path: StringMatcher }
  | { kind: 'destination_ip'; range: CidrRange }
  | { kind: 'destination_port'; start: number; end: number }
  | { kind: 'requested_server_name'; name: StringMatcher }
  | { kind: 'and' | 'or'; rules: Permission[] }
  | { kind: 'not'; rule: Permission };

export type Principal =
  | { kind: 'any' }
  | { kind: 'authenticated'; name: StringMatcher | null }
  | { kind: 'direct_remote_ip' | 'remote_ip'; range: CidrRange }
  | { kind: 'header'; header: HeaderMatcher }
  | { kind: 'url_path'; path: StringMatcher }
  | { kind: 'and' | 'or'; ids: Principal[] }
  | { kind: 'not'; id: Principal };

export interface RbacPolicy {
  name: string;
  permissions: Permission[];
  principals: Principal[];
}

export interface RbacRules {
  action: 'ALLOW' | 'DENY' | 'LOG';
  policies: RbacPolicy[];
}

export function parseRules(r: ObjectReader): RbacRules {
  rejectUnsupported(r, ['audit_logging_options']);
  const action = r.enumValue('action', ['ALLOW', 'DENY', 'LOG'] as const, 'ALLOW');
  const map = r.object('policies');
  const policies: RbacPolicy[] = [];
  for (const name of Object.keys((r.raw('policies') as Record<string, unknown> | undefined) ?? {})) {
    const p = map!.requiredObject(name);
    rejectUnsupported(p, ['condition', 'checked_condition']);
    const permissions = p.objectArray('permissions').map(parsePermission);
    const principals = p.objectArray('principals').map(parsePrincipal);
    if (permissions.length === 0) p.error('permissions', 'a policy needs at least one permission');
    if (principals.length === 0) p.error('principals', 'a policy needs at least one principal');
    policies.push({ name, permissions, principals });
  }
  return { action, policies };
}

const PERMISSION_KINDS = [
  'any',
  'header',
  'url_path',
  'destination_ip',
  'destination_port',
  'destination_port_range',
  'requested_server_name',
  'and_rules',
  'or_rules',
  'not_rule',
  'metadata',
  'matcher',
  'uri_template',
] as const;

function parsePermission(r: ObjectReader): Permission {
  const kind = r.oneOf(PERMISSION_KINDS, true);
  switch (kind) {
    case 'any':
      return { kind: 'any' };
    case 'header':
      return { kind: 'header', header: parseHeaderMatcher(r.requiredObject('header')) };
    case 'url_path':
      return { kind: 'url_path', path: parsePathMatcher(r.requiredObject('url_path')) };
    case 'destination_ip':
      return { kind: 'destination_ip', range: parseCidrRange(r.requiredObject('destination_ip')) };
    case 'destination_port': {
      const port = r.uint('destination_port', 0, { max: 65535 });
      return { kind: 'destination_port', start: port, end: port + 1 };
    }
    case 'destination_port_range': {
      const range = r.requiredObject('destination_port_range');
      return { kind: 'destination_port', start: range.uint('start', 0), end: range.uint('end', 0) };
    }
    case 'requested_server_name':
      return {
        kind: 'requested_server_name',
        name: parseStringMatcher(r.requiredObject('requested_server_name')),
      };
    case 'and_rules':
    case 'or_rules':
      return {
        kind: kind === 'and_rules' ? 'and' : 'or',
        rules: r.requiredObject(kind).objectArray('rules').map(parsePermission),
      };
    case 'not_rule':
      return { kind: 'not', rule: parsePermission(r.requiredObject('not_rule')) };
    default:
      r.unsupported(kind ?? '');
      return { kind: 'any' };
  }
}

const PRINCIPAL_KINDS = [
  'any',
  'authenticated',
  'direct_remote_ip',
  'remote_ip',
  'source_ip',
  'header',
  'url_path',
  'and_ids',
  'or_ids',
  'not_id',
  'metadata',
  'filter_state',
  'custom',
] as const;

function parsePrincipal(r: ObjectReader): Principal {
  const kind = r.oneOf(PRINCIPAL_KINDS, true);
  switch (kind) {
    case 'any':
      return { kind: 'any' };
    case 'authenticated': {
      const name = r.requiredObject('authenticated').object('principal_name');
      return { kind: 'authenticated', name: name === null ? null : parseStringMatcher(name) };
    }
    case 'direct_remote_ip':
    case 'source_ip':
      if (kind === 'source_ip') r.deprecated('source_ip', 'use direct_remote_ip');
      return { kind: 'direct_remote_ip', range: parseCidrRange(r.requiredObject(kind)) };
    case 'remote_ip':
      return { kind: 'remote_ip', range: parseCidrRange(r.requiredObject('remote_ip')) };
    case 'header':
      return { kind: 'header', header: parseHeaderMatcher(r.requiredObject('header')) };
    case 'url_path':
      return { kind: 'url_path', path: parsePathMatcher(r.requiredObject('url_path')) };
    case 'and_ids':
    case 'or_ids':
      return {
        kind: kind === 'and_ids' ? 'and' : 'or',
        ids: r.requiredObject(kind).objectArray('ids').map(parsePrincipal),
      };
    case 'not_id':
      return { kind: 'not', id: parsePrincipal(r.requiredObject('not_id')) };
    default:
      r.unsupported(kind ?? '');
      return { kind: 'any' };
  }
}

/** `type.matcher.v3.PathMatcher`: its `path` StringMatcher. */
function parsePathMatcher(r: ObjectReader): StringMatcher {
  return parseStringMatcher(r.requiredObject('path'));
}
