/**
 * Virtual host selection by authority, as Envoy's RouteMatcher::findVirtualHost:
 *
 * 1. exact domain (a Map lookup on the lower-cased authority);
 * 2. the longest `*suffix` wildcard whose suffix is strictly shorter than the authority
 *    (`*.foo.com` does not match `.foo.com`; `*-bar.foo.com` beats `*.foo.com` for `a-bar.foo.com`);
 * 3. the longest `prefix*` wildcard, same rule;
 * 4. the `*` virtual host, if any.
 *
 * Ports: the authority is matched as sent, port included. `example.com:8080` does not match the
 * domain `example.com` (only `example.com:8080`, a wildcard such as `example.*`, or `*`) — Envoy's
 * behaviour with `ignore_port_in_host_matching: false`, its default. With the option set, a port
 * (after the last ':' not inside an IPv6 `[...]`) is stripped before matching. When `*` is the only
 * domain in the table, it is returned without looking at the authority at all (Envoy's fast path).
 */
import { asciiLower } from './string-matcher';

interface WildcardLevel<V> {
  /** Length of the fixed part of the wildcard (without '*'). */
  length: number;
  byFixedPart: Map<string, V>;
}

export class VirtualHostSelector<V> {
  private readonly exact = new Map<string, V>();
  /** Longest first. */
  private readonly suffixes: WildcardLevel<V>[] = [];
  private readonly prefixes: WildcardLevel<V>[] = [];
  private catchAll: V | null = null;

  constructor(private readonly ignorePort: boolean) {}

  /**
   * Registers a domain (lower case). Returns false for a duplicate, which Envoy rejects; config
   * validation reports it, so a duplicate here keeps the first registration.
   */
  add(domain: string, host: V): boolean {
    if (domain === '*') {
      if (this.catchAll !== null) return false;
      this.catchAll = host;
      return true;
    }
    if (domain.startsWith('*')) return addWildcard(this.suffixes, domain.slice(1), host);
    if (domain.endsWith('*')) return addWildcard(this.prefixes, domain.slice(0, -1), host);
    if (this.exact.has(domain)) return false;
    this.exact.set(domain, host);
    return true;
  }

  select(authority: string): V | null {
    if (this.exact.size === 0 && this.suffixes.length === 0 && this.prefixes.length === 0)
      return this.catchAll;
    const host = asciiLower(this.ignorePort ? stripPort(authority) : authority);
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    for (const level of this.suffixes) {
      if (level.length >= host.length) continue;
      const found = level.byFixedPart.get(host.slice(host.length - level.length));
      if (found !== undefined) return found;
    }
    for (const level of this.prefixes) {
      if (level.length >= host.length) continue;
      const found = level.byFixedPart.get(host.slice(0, level.length));
      if (found !== undefined) return found;
    }
    return this.catchAll;
  }
}

function addWildcard<V>(levels: WildcardLevel<V>[], fixedPart: string, host: V): boolean {
  let level = levels.find((l) => l.length === fixedPart.length);
  if (level === undefined) {
    level = { length: fixedPart.length, byFixedPart: new Map() };
    levels.push(level);
    levels.sort((a, b) => b.length - a.length);
  }
  if (level.byFixedPart.has(fixedPart)) return false;
  level.byFixedPart.set(fixedPart, host);
  return true;
}

/** `host:port` → `host`; `[v6]:port` → `[v6]`; a bare IPv6 literal in brackets is left alone. */
export function stripPort(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon === -1) return authority;
  const bracket = authority.lastIndexOf(']');
  return bracket === -1 || bracket < colon ? authority.slice(0, colon) : authority;
}
