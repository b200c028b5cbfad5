/**
 * `typed_per_filter_config` (route configuration, virtual host, route): a map from an HTTP filter's
 * config name — its `name` in this connection manager's `http_filters` — to an Any with the same
 * `@type` as the filter (or the per-route type it names, as CORS's CorsPolicy), parsed by the filter's factory (`parsePerRouteConfig`). At run time the
 * filter reads the most specific entry from the selected route (see MatchedRoute.perFilterConfig).
 *
 * Stricter than Envoy on purpose: a key that names no filter of this connection manager (Envoy
 * ignores it), or a filter without per-route config, is an error, because a typo would otherwise
 * silently turn a limit off.
 */
import type { HttpFilterFactory } from '../../filters/http/api';
import type { ParseContext } from '../../registry/registry';
import type { ExtensionConfig, RouteConfiguration } from '../bootstrap';
import type { ObjectReader } from '../config-reader';
import { didYouMean } from '../suggest';

const FIELD = 'typed_per_filter_config';
const FILTER_CONFIG_WRAPPER = /(^|\/)envoy\.config\.route\.v3\.FilterConfig$/;

/** What a route configuration's `typed_per_filter_config` entries may name. */
export interface PerFilterScope {
  readonly ctx: ParseContext;
  /** The connection manager's `http_filters`, already parsed. */
  readonly httpFilters: readonly ExtensionConfig[];
  /** Names in `http_filters` that did not load (their error is reported) or were skipped (optional). */
  readonly unresolvedFilters: readonly string[];
}

export function parsePerFilterConfigs(r: ObjectReader, scope: PerFilterScope): ExtensionConfig[] {
  const map = r.object(FIELD);
  if (!map) return [];
  const out: ExtensionConfig[] = [];
  for (const key of Object.keys(r.raw(FIELD) as Record<string, unknown>)) {
    if (scope.unresolvedFilters.includes(key)) {
      // The filter's own error (or skip warning) says it all; Envoy ignores configs of skipped filters.
      map.raw(key);
      continue;
    }
    const any = map.object(key);
    if (!any) continue;
    const entry = parseEntry(map, key, any, scope);
    if (entry) out.push(entry);
  }
  return out;
}

function parseEntry(
  map: ObjectReader,
  key: string,
  any: ObjectReader,
  { ctx, httpFilters }: PerFilterScope,
): ExtensionConfig | null {
  const filter = httpFilters.find((f) => f.configName === key);
  if (!filter) {
    const names = httpFilters.map((f) => f.configName);
    map.error(
      key,
      `no HTTP filter named '${key}' in this connection manager's http_filters`,
      didYouMean(key, names) ?? `its filters are: ${names.join(', ')}`,
    );
    return null;
  }
  const factory = ctx.registry.get('http_filter', filter.name) as HttpFilterFactory;
  const typeUrl = any.requiredString('@type');
  if (FILTER_CONFIG_WRAPPER.test(typeUrl)) {
    any.error('@type', 'FilterConfig wrappers (is_optional, disabled) are not supported by Legate yet');
    return null;
  }
  if (!factory.parsePerRouteConfig) {
    map.error(key, `'${factory.name}' has no per-route config in Legate`);
    return null;
  }
  const accepted = factory.perRouteTypeUrls
    ? factory.perRouteTypeUrls.includes(typeUrl)
    : ctx.registry.byTypeUrl('http_filter', typeUrl) === factory;
  if (typeUrl !== '' && !accepted) {
    const use = (factory.perRouteTypeUrls ?? factory.typeUrls)[0];
    any.error('@type', `'${typeUrl}' is not a per-route config of '${factory.name}'`, `use ${use}`);
    return null;
  }
  return { at: any.path, name: factory.name, configName: key, config: factory.parsePerRouteConfig(any, ctx) };
}

/** Every per-filter config of a route configuration, at all three levels (for declaring stats). */
export function allPerFilterConfigs(rc: RouteConfiguration): ExtensionConfig[] {
  const out = [...(rc.perFilterConfigs ?? [])];
  for (const vh of rc.virtualHosts) {
    out.push(...(vh.perFilterConfigs ?? []));
    for (const route of vh.routes) out.push(...(route.perFilterConfigs ?? []));
  }
  return out;
}
