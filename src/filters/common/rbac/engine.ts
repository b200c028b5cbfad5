/**
 * RBAC rules compiled once per worker (Envoy's RoleBasedAccessControlEngine): a request or
 * connection is allowed when a policy matches under ALLOW (denied when none does), denied when one
 * matches under DENY; LOG allows everything. A policy matches when one of its permissions (what is
 * asked) and one of its principals (who asks) match. At L4 there are no headers and no path, so
 * header and url_path conditions never match there (as in Envoy's network filter).
 */
import type { HeaderMap } from '../../../http/header-map';
import { CompiledCidr, ipBytes } from '../../../common/cidr';
import { CompiledHeaderMatcher, type PseudoHeaderSource } from '../../../router/request-matchers';
import { CompiledStringMatcher } from '../../../router/string-matcher';
import type { DownstreamConnectionInfo } from '../../../transport/api';
import type { Permission, Principal, RbacRules } from './policy';

/** What the conditions are checked against. */
export interface RbacSubject {
  /** null on a connection (network filter). */
  readonly headers: HeaderMap | null;
  readonly request: PseudoHeaderSource | null;
  /** The path without its query; null on a connection. */
  readonly path: string | null;
  readonly localAddress: string;
  readonly localPort: number;
  /** The peer. */
  readonly directRemoteAddress: string;
  /** The client as the connection manager trusts it (x-forwarded-for, PROXY protocol). */
  readonly remoteAddress: string;
  readonly downstreamInfo: DownstreamConnectionInfo | null;
}

type Check = (s: RbacSubject) => boolean;

export class CompiledRbacRules {
  private readonly policies: { name: string; permission: Check; principal: Check }[];

  constructor(readonly rules: RbacRules) {
    this.policies = rules.policies.map((p) => ({
      name: p.name,
      permission: anyOf(p.permissions.map(compilePermission)),
      principal: anyOf(p.principals.map(compilePrincipal)),
    }));
  }

  /** Whether `subject` may go on under these rules. */
  allows(subject: RbacSubject): boolean {
    const matched = this.policies.some((p) => p.permission(subject) && p.principal(subject));
    if (this.rules.action === 'ALLOW') return matched;
    if (this.rules.action === 'DENY') return !matched;
    return true;
  }
}

function anyOf(checks: Check[]): Check {
  return (s) => checks.some((c) => c(s));
}

function allOf(checks: Check[]): Check {
  return (s) => checks.every((c) => c(s));
}

function inRange(range: CompiledCidr, address: string): boolean {
  const bytes = ipBytes(address);
  return bytes !== null && range.contains(bytes);
}

function headerCheck(m: CompiledHeaderMatcher): Check {
  return (s) => s.headers !== null && m.matches(s.headers, s.request ?? undefined);
}

function pathCheck(m: CompiledStringMatcher): Check {
  return (s) => s.path !== null && m.match(s.path);
}

function compilePermission(p: Permission): Check {
  switch (p.kind) {
    case 'any':
      return () => true;
    case 'header':
      return headerCheck(new CompiledHeaderMatcher(p.header));
    case 'url_path':
      return pathCheck(new CompiledStringMatcher(p.path));
    case 'destination_ip': {
      const range = new CompiledCidr(p.range);
      return (s) => inRange(range, s.localAddress);
    }
    case 'destination_port':
      return (s) => s.localPort >= p.start && s.localPort < p.end;
    case 'requested_server_name': {
      const m = new CompiledStringMatcher(p.name);
      return (s) => m.match(s.downstreamInfo?.requestedServerName ?? '');
    }
    case 'and':
      return allOf(p.rules.map(compilePermission));
    case 'or':
      return anyOf(p.rules.map(compilePermission));
    case 'not': {
      const inner = compilePermission(p.rule);
      return (s) => !inner(s);
    }
  }
}

function compilePrincipal(p: Principal): Check {
  switch (p.kind) {
    case 'any':
      return () => true;
    case 'authenticated': {
      const m = p.name === null ? null : new CompiledStringMatcher(p.name);
      return (s) => {
        const cert = s.downstreamInfo?.tls?.clientCertificate ?? null;
        if (cert === null) return false;
        if (m === null) return true;
        // Envoy's order: URI SANs, then DNS SANs, then the subject.
        return (
          cert.uriSans.some((n) => m.match(n)) ||
          cert.dnsSans.some((n) => m.match(n)) ||
          m.match(cert.subject)
        );
      };
    }
    case 'direct_remote_ip': {
      const range = new CompiledCidr(p.range);
      return (s) => inRange(range, s.directRemoteAddress);
    }
    case 'remote_ip': {
      const range = new CompiledCidr(p.range);
      return (s) => inRange(range, s.remoteAddress);
    }
    case 'header':
      return headerCheck(new CompiledHeaderMatcher(p.header));
    case 'url_path':
      return pathCheck(new CompiledStringMatcher(p.path));
    case 'and':
      return allOf(p.ids.map(compilePrincipal));
    case 'or':
      return anyOf(p.ids.map(compilePrincipal));
    case 'not': {
      const inner = compilePrincipal(p.id);
      return (s) => !inner(s);
    }
  }
}
