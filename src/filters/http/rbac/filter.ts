/**
 * The HTTP RBAC filter (Envoy's `envoy.filters.http.rbac`): a request is allowed when a policy
 * matches under ALLOW (denied when none does), denied when one matches under DENY; LOG allows
 * everything. A policy matches when one of its permissions (what is asked: headers, path,
 * destination, SNI) and one of its principals (who asks: peer or client address, client
 * certificate, headers) match. A denied request gets 403 `RBAC: access denied`; the route's
 * `RBACPerRoute` replaces the filter's policies (an empty one turns RBAC off there). Shadow rules are
 * evaluated and counted only. Stats `http.<stat_prefix>.rbac.<rules_stat_prefix>allowed` / `denied`,
 * `…shadow_allowed` / `shadow_denied`.
 */
import type { RequestHead } from '../../../http/codec';
import { CompiledCidr, ipBytes } from '../../../common/cidr';
import { CompiledHeaderMatcher } from '../../../router/request-matchers';
import { CompiledStringMatcher } from '../../../router/string-matcher';
import type { Counter } from '../../../stats/store';
import { FilterHeadersStatus, PassThroughFilter, type StreamFilterCallbacks } from '../api';
import type { Permission, Principal, RbacConfig, RbacRules } from './config';

/** What a permission or principal is checked against. */
interface RbacRequest {
  head: RequestHead;
  /** The path without its query. */
  path: string;
  callbacks: StreamFilterCallbacks;
}

type Check = (r: RbacRequest) => boolean;

/** Rules compiled once per worker: the first policy that matches, by name, or null. */
class CompiledRules {
  private readonly policies: { name: string; permission: Check; principal: Check }[];

  constructor(readonly rules: RbacRules) {
    this.policies = rules.policies.map((p) => ({
      name: p.name,
      permission: anyOf(p.permissions.map(compilePermission)),
      principal: anyOf(p.principals.map(compilePrincipal)),
    }));
  }

  /** Whether the request may go on under these rules. */
  allows(r: RbacRequest): boolean {
    const matched = this.policies.some((p) => p.permission(r) && p.principal(r));
    if (this.rules.action === 'ALLOW') return matched;
    if (this.rules.action === 'DENY') return !matched;
    return true;
  }
}

export interface RbacStats {
  allowed: Counter;
  denied: Counter;
  shadowAllowed: Counter;
  shadowDenied: Counter;
}

export interface RbacShared {
  readonly configName: string;
  readonly config: RbacConfig;
  /** Per config (the filter's and each route's): its compiled rules. */
  readonly compiled: WeakMap<RbacConfig, { rules: CompiledRules | null; shadow: CompiledRules | null }>;
  readonly stats: RbacStats;
}

export class RbacFilter extends PassThroughFilter {
  constructor(private readonly shared: RbacShared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    const config =
      (this.callbacks.route()?.perFilterConfig(this.shared.configName) as RbacConfig | undefined) ??
      this.shared.config;
    const compiled = this.compile(config);
    if (compiled.rules === null && compiled.shadow === null) return FilterHeadersStatus.Continue;
    const q = head.path.indexOf('?');
    const request: RbacRequest = {
      head,
      path: q === -1 ? head.path : head.path.slice(0, q),
      callbacks: this.callbacks,
    };
    const stats = this.shared.stats;
    if (compiled.shadow !== null)
      (compiled.shadow.allows(request) ? stats.shadowAllowed : stats.shadowDenied).inc();
    if (compiled.rules === null) return FilterHeadersStatus.Continue;
    if (compiled.rules.allows(request)) {
      stats.allowed.inc();
      return FilterHeadersStatus.Continue;
    }
    stats.denied.inc();
    this.callbacks.sendLocalReply(403, 'RBAC: access denied', 'rbac_access_denied');
    return FilterHeadersStatus.StopIteration;
  }

  private compile(config: RbacConfig): { rules: CompiledRules | null; shadow: CompiledRules | null } {
    let compiled = this.shared.compiled.get(config);
    if (compiled === undefined) {
      compiled = {
        rules: config.rules === null ? null : new CompiledRules(config.rules),
        shadow: config.shadowRules === null ? null : new CompiledRules(config.shadowRules),
      };
      this.shared.compiled.set(config, compiled);
    }
    return compiled;
  }
}

function anyOf(checks: Check[]): Check {
  return (r) => checks.some((c) => c(r));
}

function allOf(checks: Check[]): Check {
  return (r) => checks.every((c) => c(r));
}

function inRange(range: CompiledCidr, address: string): boolean {
  const bytes = ipBytes(address);
  return bytes !== null && range.contains(bytes);
}

function compilePermission(p: Permission): Check {
  switch (p.kind) {
    case 'any':
      return () => true;
    case 'header': {
      const m = new CompiledHeaderMatcher(p.header);
      return (r) => m.matches(r.head.headers, r.head);
    }
    case 'url_path': {
      const m = new CompiledStringMatcher(p.path);
      return (r) => m.match(r.path);
    }
    case 'destination_ip': {
      const range = new CompiledCidr(p.range);
      return (r) => inRange(range, r.callbacks.localAddress);
    }
    case 'destination_port':
      return (r) => r.callbacks.localPort >= p.start && r.callbacks.localPort < p.end;
    case 'requested_server_name': {
      const m = new CompiledStringMatcher(p.name);
      return (r) => m.match(r.callbacks.downstreamInfo?.requestedServerName ?? '');
    }
    case 'and':
      return allOf(p.rules.map(compilePermission));
    case 'or':
      return anyOf(p.rules.map(compilePermission));
    case 'not': {
      const inner = compilePermission(p.rule);
      return (r) => !inner(r);
    }
  }
}

function compilePrincipal(p: Principal): Check {
  switch (p.kind) {
    case 'any':
      return () => true;
    case 'authenticated': {
      const m = p.name === null ? null : new CompiledStringMatcher(p.name);
      return (r) => {
        const cert = r.callbacks.downstreamInfo?.tls?.clientCertificate ?? null;
        if (cert === null) return false;
        if (m === null) return true;
        // Envoy's order: URI SANs, then DNS SANs, then the subject.
        return (
          cert.uriSans.some((s) => m.match(s)) ||
          cert.dnsSans.some((s) => m.match(s)) ||
          m.match(cert.subject)
        );
      };
    }
    case 'direct_remote_ip': {
      const range = new CompiledCidr(p.range);
      return (r) => inRange(range, r.callbacks.directRemoteAddress);
    }
    case 'remote_ip': {
      const range = new CompiledCidr(p.range);
      return (r) => inRange(range, r.callbacks.remoteAddress);
    }
    case 'header': {
      const m = new CompiledHeaderMatcher(p.header);
      return (r) => m.matches(r.head.headers, r.head);
    }
    case 'url_path': {
      const m = new CompiledStringMatcher(p.path);
      return (r) => m.match(r.path);
    }
    case 'and':
      return allOf(p.ids.map(compilePrincipal));
    case 'or':
      return anyOf(p.ids.map(compilePrincipal));
    case 'not': {
      const inner = compilePrincipal(p.id);
      return (r) => !inner(r);
    }
  }
}
