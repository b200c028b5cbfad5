/**
 * A route action's `hash_policy` list (Envoy's RouteAction.HashPolicy): header, cookie (reading an
 * existing cookie; generating one with `ttl` is not supported), connection_properties.source_ip and
 * query_parameter, each with `terminal`.
 */
import type { HashPolicyConfig } from '../bootstrap';
import type { ObjectReader } from '../config-reader';
import { rejectUnsupported } from '../unsupported';

const SPECIFIERS = ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state'] as const;

export function parseHashPolicies(action: ObjectReader): HashPolicyConfig[] {
  const out: HashPolicyConfig[] = [];
  for (const r of action.objectArray('hash_policy')) {
    const policy = parseHashPolicy(r);
    if (policy !== null) out.push(policy);
  }
  return out;
}

function parseHashPolicy(r: ObjectReader): HashPolicyConfig | null {
  rejectUnsupported(r, ['filter_state']);
  const kind = r.oneOf(SPECIFIERS, true);
  const terminal = r.bool('terminal', false);
  switch (kind) {
    case 'header': {
      const header = r.requiredObject('header');
      rejectUnsupported(header, ['regex_rewrite']);
      const name = header.requiredString('header_name').toLowerCase();
      return { kind: 'header', name, terminal };
    }
    case 'cookie': {
      const cookie = r.requiredObject('cookie');
      for (const field of ['ttl', 'path', 'attributes'])
        cookie.unsupported(field, 'Legate hashes an existing cookie but does not generate one');
      const name = cookie.requiredString('name');
      return { kind: 'cookie', name, terminal };
    }
    case 'connection_properties': {
      const props = r.requiredObject('connection_properties');
      const sourceIp = props.bool('source_ip', false);
      if (!sourceIp) r.warn('connection_properties', 'source_ip is false: this entry never yields a hash');
      return sourceIp ? { kind: 'source_ip', terminal } : null;
    }
    case 'query_parameter': {
      const query = r.requiredObject('query_parameter');
      const name = query.requiredString('name');
      return { kind: 'query_parameter', name, terminal };
    }
    default:
      return null;
  }
}
