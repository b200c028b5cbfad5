/**
 * The network RBAC filter (Envoy's `envoy.filters.network.rbac`): each new connection is checked
 * against the policies by what L4 knows — its addresses, ports, SNI (with tls_inspector) and client
 * certificate (on a TLS chain) — and a denied one is closed before the next filter sees it. Header
 * and path conditions never match at L4. Counted in `<stat_prefix>.rbac.allowed` / `denied` and the
 * shadow rules' `shadow_allowed` / `shadow_denied`.
 */
import type * as net from 'node:net';
import { downstreamInfoOf } from '../../../transport/api';
import type { Counter, StatsStore } from '../../../stats/store';
import { CompiledRbacRules, type RbacSubject } from '../../common/rbac/engine';
import { FilterStatus, type NetworkFilter, type NetworkFilterContext } from '../api';
import type { NetworkRbacConfig } from './config';

export function networkRbacStatNames(config: NetworkRbacConfig): string[] {
  const p = `${config.statPrefix}.rbac.`;
  return [
    `${p}allowed`,
    `${p}denied`,
    `${p}${config.shadowRulesStatPrefix}shadow_allowed`,
    `${p}${config.shadowRulesStatPrefix}shadow_denied`,
  ];
}

export class NetworkRbacFilter implements NetworkFilter {
  private readonly rules: CompiledRbacRules | null;
  private readonly shadow: CompiledRbacRules | null;
  private readonly counters: Counter[];

  constructor(config: NetworkRbacConfig, ctx: NetworkFilterContext) {
    this.rules = config.rules === null ? null : new CompiledRbacRules(config.rules);
    this.shadow = config.shadowRules === null ? null : new CompiledRbacRules(config.shadowRules);
    const stats = (ctx.services as { stats: StatsStore }).stats;
    this.counters = networkRbacStatNames(config).map((name) => stats.counter(name));
  }

  onNewConnection(socket: net.Socket): FilterStatus {
    const subject = connectionSubject(socket);
    const [allowed, denied, shadowAllowed, shadowDenied] = this.counters as [
      Counter,
      Counter,
      Counter,
      Counter,
    ];
    if (this.shadow !== null) (this.shadow.allows(subject) ? shadowAllowed : shadowDenied).inc();
    if (this.rules === null || this.rules.allows(subject)) {
      if (this.rules !== null) allowed.inc();
      return FilterStatus.Continue;
    }
    denied.inc();
    socket.destroy();
    return FilterStatus.StopIteration;
  }
}

/** What L4 knows of a connection; the PROXY protocol's addresses where a listener filter restored them. */
function connectionSubject(socket: net.Socket): RbacSubject {
  const info = downstreamInfoOf.get(socket) ?? null;
  const restored = info?.addresses;
  const peer = socket.remoteAddress ?? '';
  return {
    headers: null,
    request: null,
    path: null,
    localAddress: restored?.localAddress ?? socket.localAddress ?? '',
    localPort: restored?.localPort ?? socket.localPort ?? 0,
    directRemoteAddress: peer,
    remoteAddress: restored?.remoteAddress ?? peer,
    downstreamInfo: info,
  };
}
