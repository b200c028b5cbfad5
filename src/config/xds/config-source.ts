/**
 * Envoy's `config.core.v3.ConfigSource` as Legate supports it: a file on the local filesystem
 * (`path_config_source`, and the deprecated `path` Envoy still accepts), whose content is a
 * DiscoveryResponse (discovery-response.ts). The gRPC and REST sources (`api_config_source`, `ads`)
 * need a management server client Legate does not have yet; they are reported as such.
 */
import { existsSync } from 'node:fs';
import type { ObjectReader } from '../config-reader';
import { rejectUnsupported } from '../unsupported';

/** A `path_config_source`: the file read at startup and again whenever it is moved into place. */
export interface FileConfigSource {
  at: string;
  /** The file, as written (relative paths are relative to Legate's working directory, as in Envoy). */
  path: string;
  /**
   * `watched_directory.path`: a move into this directory (any entry) reloads `path`. Null: moves
   * onto `path` itself reload it (Envoy's default).
   */
  watchedDirectory: string | null;
}

/** What `dynamic_resources` and EDS clusters may name; gRPC xDS is not there yet. */
const GRPC_XDS = 'xDS from a management server (gRPC/REST); Legate reads xDS from files (path_config_source)';

/**
 * Reads the ConfigSource at `field` of `r`; null when absent or in error (reported). The file must
 * exist now: "The path to the source must exist at config load time" (config_source.proto).
 */
export function parseConfigSource(r: ObjectReader, field: string): FileConfigSource | null {
  const source = r.object(field);
  if (source === null) return null;
  rejectUnsupported(source, ['authorities']);
  for (const grpc of ['api_config_source', 'ads', 'self']) source.unsupported(grpc, GRPC_XDS);
  // Files are read at once: the initial fetch cannot time out (Envoy's timer is for servers).
  source.durationMs('initial_fetch_timeout', 15_000);
  source.enumValue('resource_api_version', ['AUTO', 'V3'], 'AUTO');
  const kind = source.oneOf(['path', 'path_config_source', 'api_config_source', 'ads', 'self'], true);
  if (kind === 'path') {
    source.deprecated('path', 'use path_config_source');
    return checked(source, 'path', { at: source.path, path: source.string('path'), watchedDirectory: null });
  }
  if (kind !== 'path_config_source') return null;
  const files = source.requiredObject('path_config_source');
  const watched = files.object('watched_directory');
  const watchedDirectory = watched === null ? null : watched.requiredString('path');
  return checked(files, 'path', {
    at: files.path,
    path: files.requiredString('path'),
    watchedDirectory: watchedDirectory === '' ? null : watchedDirectory,
  });
}

function checked(r: ObjectReader, field: string, source: FileConfigSource): FileConfigSource | null {
  if (source.path === '') return null;
  if (!existsSync(source.path)) {
    r.error(field, `'${source.path}' does not exist (an xDS file must exist when the config is loaded)`);
    return null;
  }
  return source;
}
