/**
 * Resolves a `{ name, typed_config }` entry (network filter, HTTP filter, access logger) to a
 * registered factory and parses its config, the way Envoy does: by `typed_config['@type']` first,
 * else by `name` (a missing typed_config is allowed: the seed config's router has none). A `name`
 * that disagrees with the `@type` and deprecated names are accepted with a warning; unknown ones
 * are errors with a suggestion (warnings, and skipped, for `is_optional` HTTP filters).
 */
import type { ExtensionConfig } from './bootstrap';
import type { ObjectReader } from './config-reader';
import type { ExtensionCategory, ExtensionFactory, ParseContext, Registry } from '../registry/registry';
import { ObjectReaderImpl } from './object-reader';
import { didYouMean } from './suggest';

export interface ResolvedExtension {
  readonly config: ExtensionConfig;
  readonly factory: ExtensionFactory;
}

const CATEGORY_LABEL: Record<ExtensionCategory, string> = {
  network_filter: 'network filter',
  http_filter: 'HTTP filter',
  lb_policy: 'load balancing policy',
  access_logger: 'access logger',
  listener_filter: 'listener filter',
  downstream_transport_socket: 'transport socket',
  upstream_transport_socket: 'upstream transport socket',
  cluster_type: 'cluster type',
};
const TYPED_STRUCT = /(^|\/)(udpa\.type\.v1|xds\.type\.v3)\.TypedStruct$/;

/** Null when the entry names nothing usable (the issue is recorded), or names an optional unknown filter. */
export function resolveExtension(
  entry: ObjectReader,
  category: ExtensionCategory,
  ctx: ParseContext,
): ResolvedExtension | null {
  const name = entry.requiredString('name');
  if (entry.has('config'))
    entry.error('config', "Envoy v3 has no 'config' field", "use typed_config with an '@type'");
  const optional = category === 'http_filter' && entry.bool('is_optional', false);
  if (category === 'http_filter') entry.unsupported('disabled');
  const typed = entry.object('typed_config');
  const factory = typed
    ? byTypedConfig(entry, typed, category, name, ctx.registry, optional)
    : byName(entry, category, name, ctx.registry, optional);
  if (!factory) return null;
  // A missing typed_config is parsed as an empty one located at the entry, so a factory with
  // required fields can say which are missing.
  const reader = typed ?? (entry instanceof ObjectReaderImpl ? entry.absent('typed_config') : null);
  return {
    config: {
      at: entry.path,
      name: factory.name,
      configName: name,
      config: factory.parseConfig(reader, ctx),
    },
    factory,
  };
}

function byTypedConfig(
  entry: ObjectReader,
  typed: ObjectReader,
  category: ExtensionCategory,
  name: string,
  registry: Registry,
  optional: boolean,
): ExtensionFactory | undefined {
  const typeUrl = typed.requiredString('@type');
  if (typeUrl === '') return undefined;
  const factory = TYPED_STRUCT.test(typeUrl) ? undefined : registry.byTypeUrl(category, typeUrl);
  if (!factory) {
    if (optional) {
      typed.warn('@type', `skipping optional ${CATEGORY_LABEL[category]} of unknown type '${typeUrl}'`);
      // Its settings are as unknown as its type, and unused.
      for (const field of Object.keys(entry.raw('typed_config') as object)) typed.raw(field);
      return undefined;
    }
    // The fields of a config whose type is unknown cannot be checked: they follow from this error.
    typed.followsFrom('', `${typed.path}.@type`);
    if (TYPED_STRUCT.test(typeUrl))
      typed.error('@type', 'TypedStruct configs are not supported by Legate yet');
    else {
      const known = registry.names(category).flatMap((n) => registry.get(category, n).typeUrls);
      typed.error(
        '@type',
        `unknown or unsupported ${CATEGORY_LABEL[category]} type '${typeUrl}'`,
        didYouMean(typeUrl, known) ?? supportedList(registry, category),
      );
    }
    return undefined;
  }
  // With typed_config, Envoy picks the extension by @type and reads `name` only as a label; a name
  // that is another extension's is most likely a mistake, but the config is valid.
  const named = registry.byNameOrAlias(category, name);
  if (named && named.factory !== factory) {
    entry.warn(
      'name',
      `'${name}' names another ${CATEGORY_LABEL[category]} than typed_config's @type '${typeUrl}'; ${factory.name} is used, as in Envoy`,
    );
  } else if (named?.deprecated) {
    entry.warn('name', `'${name}' is a deprecated name; use '${factory.name}'`);
  }
  return factory;
}

function byName(
  entry: ObjectReader,
  category: ExtensionCategory,
  name: string,
  registry: Registry,
  optional: boolean,
): ExtensionFactory | undefined {
  if (name === '') return undefined;
  const found = registry.byNameOrAlias(category, name);
  if (found?.deprecated) entry.warn('name', `'${name}' is a deprecated name; use '${found.factory.name}'`);
  if (found) return found.factory;
  if (optional) entry.warn('name', `skipping unknown optional ${CATEGORY_LABEL[category]} '${name}'`);
  else {
    entry.error(
      'name',
      `unknown or unsupported ${CATEGORY_LABEL[category]} '${name}'`,
      didYouMean(name, registry.names(category)) ?? supportedList(registry, category),
    );
  }
  return undefined;
}

function supportedList(registry: Registry, category: ExtensionCategory): string {
  return `Legate has: ${registry.names(category).join(', ')}`;
}

/**
 * The last entry of a filter list must be terminal (router, http_connection_manager, tcp_proxy)
 * and no other may be: filters after a terminal one would never run.
 */
export function checkTerminalLast(
  list: ObjectReader,
  field: string,
  entries: readonly { reader: ObjectReader; resolved: ResolvedExtension | null }[],
  category: ExtensionCategory,
): void {
  const label = CATEGORY_LABEL[category];
  if (entries.length === 0) {
    list.error(
      field,
      `needs at least one ${label}; the last must be terminal (e.g. ${exampleTerminal(category)})`,
    );
    return;
  }
  entries.forEach(({ reader, resolved }, i) => {
    if (!resolved) return;
    const last = i === entries.length - 1;
    if (resolved.factory.isTerminal && !last) {
      reader.error('name', `'${resolved.factory.name}' is terminal and must be the last ${label}`);
    } else if (!resolved.factory.isTerminal && last) {
      reader.error(
        'name',
        `the last ${label} must be terminal (e.g. ${exampleTerminal(category)}), found '${resolved.factory.name}'`,
      );
    }
  });
}

function exampleTerminal(category: ExtensionCategory): string {
  return category === 'http_filter'
    ? 'envoy.filters.http.router'
    : 'envoy.filters.network.http_connection_manager';
}
