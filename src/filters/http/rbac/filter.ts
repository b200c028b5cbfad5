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
import type { Counter } from '../../../stats/store';
import { FilterHeadersStatus, PassThroughFilter } from '../api';
import { CompiledRbacRules, type RbacSubject } from '../../common/rbac/engine';
import type { RbacConfig } from './config';

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
  readonly compiled: WeakMap<
    RbacConfig,
    { rules: CompiledRbacRules | null; shadow: CompiledRbacRules | null }
  >;
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
    const cb = this.callbacks;
    const subject: RbacSubject = {
      headers: head.headers,
      request: head,
      path: q === -1 ? head.path : head.path.slice(0, q),
      localAddress: cb.localAddress,
      localPort: cb.localPort,
      directRemoteAddress: cb.directRemoteAddress,
      remoteAddress: cb.remoteAddress,
      downstreamInfo: cb.downstreamInfo,
    };
    const stats = this.shared.stats;
    if (compiled.shadow !== null)
      (compiled.shadow.allows(subject) ? stats.shadowAllowed : stats.shadowDenied).inc();
    if (compiled.rules === null) return FilterHeadersStatus.Continue;
    if (compiled.rules.allows(subject)) {
      stats.allowed.inc();
      return FilterHeadersStatus.Continue;
    }
    stats.denied.inc();
    this.callbacks.sendLocalReply(403, 'RBAC: access denied', 'rbac_access_denied');
    return FilterHeadersStatus.StopIteration;
  }

  private compile(config: RbacConfig): { rules: CompiledRbacRules | null; shadow: CompiledRbacRules | null } {
    let compiled = this.shared.compiled.get(config);
    if (compiled === undefined) {
      compiled = {
        rules: config.rules === null ? null : new CompiledRbacRules(config.rules),
        shadow: config.shadowRules === null ? null : new CompiledRbacRules(config.shadowRules),
      };
      this.shared.compiled.set(config, compiled);
    }
    return compiled;
  }
}
