/**
 * Secrets from files (Envoy's SDS with `sds_config.path_config_source`): a
 * `tls_certificate_sds_secret_configs` / `validation_context_sds_secret_config` entry names a
 * secret and the file that holds it, a YAML/JSON DiscoveryResponse whose `resources` are
 * `envoy.extensions.transport_sockets.tls.v3.Secret`s. The secret is read when the config is
 * loaded, and again when the file, a file it names, or the `watched_directory` changes (see
 * reloader.ts). Also which paths a TLS context depends on, for that watching.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ObjectReader } from '../../config/config-reader';
import { readDetached } from '../../config/detached-reader';

const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const SDS_SOURCES = ['path', 'path_config_source', 'api_config_source', 'ads', 'self'] as const;

/** What an SDS secret config resolved to, and the paths whose change means reading it again. */
export interface SdsSecret<T> {
  value: T | null;
  watchedPaths: string[];
}

/**
 * Reads the `kind` (`tls_certificate`, `validation_context`) of the secret an
 * SdsSecretConfig (`r`) names, parsing it with `parse` (errors are located at `sds_config`).
 */
export function readSdsSecret<T>(
  r: ObjectReader,
  kind: 'tls_certificate' | 'validation_context',
  parse: (secret: ObjectReader) => T,
): SdsSecret<T> {
  const name = r.requiredString('name');
  const sds = r.object('sds_config');
  if (sds === null) {
    r.error(
      'sds_config',
      'is required: Legate reads secrets from files (path_config_source), not static_resources.secrets',
    );
    return { value: null, watchedPaths: [] };
  }
  const source = sds.oneOf(SDS_SOURCES, true);
  sds.string('resource_api_version');
  sds.durationMs('initial_fetch_timeout', 0);
  let path = '';
  const watchedPaths: string[] = [];
  if (source === 'path') {
    path = sds.string('path');
  } else if (source === 'path_config_source') {
    const files = sds.requiredObject('path_config_source');
    path = files.requiredString('path');
    const directory = files.object('watched_directory')?.requiredString('path');
    if (directory) watchedPaths.push(directory);
  } else if (source !== null) {
    sds.unsupported(source, 'secrets come from files only (path_config_source)');
  }
  if (path === '') return { value: null, watchedPaths };
  watchedPaths.push(path);
  const found = findSecret(path, name);
  if (typeof found === 'string') {
    sds.error(source!, found);
    return { value: null, watchedPaths };
  }
  watchedPaths.push(...filenamesIn(found));
  const read = readDetached(`${path} (secret '${name}')`, found, (secret) => {
    secret.string('@type');
    secret.string('name');
    const body = secret.object(kind);
    if (body === null) {
      secret.error(kind, `secret '${name}' has no ${kind}`);
      return null;
    }
    return parse(body);
  });
  if (read.errors.length > 0) {
    sds.error(source!, read.errors.join('; '));
    return { value: null, watchedPaths };
  }
  return { value: read.value, watchedPaths };
}

/** The resource named `name` in the SDS file at `path` (plain data), or why there is none. */
function findSecret(path: string, name: string): Record<string, unknown> | string {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    return `cannot read the secret file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  const resources = (document as { resources?: unknown } | null)?.resources;
  if (!Array.isArray(resources)) return `'${path}' has no resources list (a DiscoveryResponse of Secrets)`;
  for (const resource of resources as Record<string, unknown>[]) {
    if (resource?.name !== name) continue;
    if (resource['@type'] !== SECRET_TYPE) return `resource '${name}' in '${path}' is not a ${SECRET_TYPE}`;
    return resource;
  }
  return `'${path}' has no secret named '${name}'`;
}

/** Every `filename` a plain-data config subtree names (DataSources: certificates, keys, CAs). */
export function filenamesIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(filenamesIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) =>
    key === 'filename' && typeof v === 'string' ? [v] : filenamesIn(v),
  );
}
