/**
 * The extension registry (Envoy's REGISTER_FACTORY): every network filter, HTTP filter, load
 * balancing policy and cluster type is a factory registered here under its Envoy name, its `@type` URLs and any
 * deprecated aliases. Config parsing looks factories up by name or by `typed_config['@type']`; there
 * is no switch over names anywhere else. A duplicate registration throws at startup.
 */
import type { ObjectReader } from '../config/config-reader';

export type ExtensionCategory =
  | 'network_filter'
  | 'http_filter'
  | 'lb_policy'
  | 'access_logger'
  | 'listener_filter'
  | 'downstream_transport_socket'
  | 'upstream_transport_socket'
  | 'cluster_type';

export interface ExtensionFactory<C = unknown> {
  readonly category: ExtensionCategory;
  /** Canonical Envoy name, e.g. 'envoy.filters.http.router'. */
  readonly name: string;
  /** Full `@type` URLs accepted in typed_config (without the type.googleapis.com/ prefix is also accepted). */
  readonly typeUrls: readonly string[];
  /** Deprecated names accepted with a warning, e.g. 'envoy.router'. */
  readonly aliases?: readonly string[];
  /** For LB policies: the cluster `lb_policy` enum value that selects this factory, e.g. 'ROUND_ROBIN'. */
  readonly enumName?: string;
  /** Only the last HTTP filter (router) and terminal network filters (HCM, tcp_proxy) are terminal. */
  readonly isTerminal?: boolean;
  /**
   * Validates and normalises the typed_config on the primary thread. `reader` is null when the
   * filter was given no typed_config (allowed: defaults apply). Errors go through the reader.
   * The result must be plain data (it is structured-cloned to workers).
   */
  parseConfig(reader: ObjectReader | null, ctx: ParseContext): C;
}

/** What a factory may use while parsing (e.g. the HCM resolves its http_filters through the registry). */
export interface ParseContext {
  readonly registry: Registry;
  /**
   * Records that `reader.field` names the cluster `cluster` (a route's `cluster`, a tcp_proxy's
   * `cluster`): the loader reports it there, with a suggestion, if no such cluster exists.
   * Optional so that unit tests of a factory can pass `{ registry }` alone.
   */
  readonly referenceCluster?: (reader: ObjectReader, field: string, cluster: string) => void;
  /**
   * Objects shared by every extension parsed in one config load (Envoy's singleton manager), e.g.
   * the token bucket of network local_ratelimit filters with the same `share_key`. Optional so
   * that unit tests can pass `{ registry }` alone (nothing is shared then).
   */
  readonly singletons?: Map<string, unknown>;
}

const TYPE_PREFIX = 'type.googleapis.com/';

export class Registry {
  private readonly byName = new Map<string, ExtensionFactory>();
  private readonly byAlias = new Map<string, ExtensionFactory>();
  private readonly byType = new Map<string, ExtensionFactory>();

  register(factory: ExtensionFactory): void {
    const key = `${factory.category}:${factory.name}`;
    if (this.byName.has(key)) throw new Error(`extension '${factory.name}' registered twice`);
    this.byName.set(key, factory);
    for (const alias of factory.aliases ?? []) this.byAlias.set(`${factory.category}:${alias}`, factory);
    for (const url of factory.typeUrls)
      this.byType.set(`${factory.category}:${stripTypePrefix(url)}`, factory);
  }

  /** Finds a factory by canonical name; `deprecated` tells whether an alias matched. */
  byNameOrAlias(
    category: ExtensionCategory,
    name: string,
  ): { factory: ExtensionFactory; deprecated: boolean } | undefined {
    const key = `${category}:${name}`;
    const f = this.byName.get(key);
    if (f) return { factory: f, deprecated: false };
    const a = this.byAlias.get(key);
    return a ? { factory: a, deprecated: true } : undefined;
  }

  byEnumName(category: ExtensionCategory, enumName: string): ExtensionFactory | undefined {
    for (const f of this.byName.values()) if (f.category === category && f.enumName === enumName) return f;
    return undefined;
  }

  enumNames(category: ExtensionCategory): string[] {
    const out: string[] = [];
    for (const f of this.byName.values()) if (f.category === category && f.enumName) out.push(f.enumName);
    return out;
  }

  byTypeUrl(category: ExtensionCategory, typeUrl: string): ExtensionFactory | undefined {
    return this.byType.get(`${category}:${stripTypePrefix(typeUrl)}`);
  }

  /** Canonical names in a category, for did-you-mean suggestions. */
  names(category: ExtensionCategory): string[] {
    const out: string[] = [];
    for (const f of this.byName.values()) if (f.category === category) out.push(f.name);
    return out;
  }

  get<C>(category: ExtensionCategory, name: string): ExtensionFactory<C> {
    const f = this.byName.get(`${category}:${name}`);
    if (!f) throw new Error(`no ${category} named '${name}'`);
    return f as ExtensionFactory<C>;
  }
}

function stripTypePrefix(url: string): string {
  return url.startsWith(TYPE_PREFIX) ? url.slice(TYPE_PREFIX.length) : url;
}
