/**
 * An xDS file: a `service.discovery.v3.DiscoveryResponse` in YAML or JSON, as Envoy's filesystem
 * subscription reads it (`version_info`, and `resources`, each a google.protobuf.Any whose `@type`
 * names the resource type). Its resources are checked with the same located errors as the
 * bootstrap, pointing into the xDS file (`cds.yaml:12:7: error: resources[1].connect_timeout: …`).
 */
import type { BuildProblem } from '../build-error';
import type { ConfigIssue } from '../config-reader';
import { ConfigError, IssueList } from '../config-error';
import { ReaderSession, type ObjectReaderImpl } from '../object-reader';
import { YamlSources } from '../yaml-source';

export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ENDPOINT_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const ROUTE_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

/** One accepted response: its version and resources (with each resource as written, for /config_dump). */
export interface DiscoveryUpdate<T> {
  versionInfo: string;
  resources: T[];
  /** Per resource, in order: the resource as written (plain JSON data, `@type` included). */
  raw: unknown[];
  warnings: ConfigIssue[];
}

export interface ResourceParser<T> {
  /** The resources' type URL (`@type`, and the response's `type_url` when given). */
  typeUrl: string;
  /** Parses every resource (each reader is one `resources[i]`, its `@type` read and checked). */
  parse(readers: ObjectReaderImpl[]): T[];
  /** Builds what a worker builds from them, after a parse without errors (see config/load.ts). */
  check?(resources: T[]): readonly BuildProblem[];
}

/** Parses the text of `file`; throws a ConfigError naming every problem, located in `file`. */
export function parseDiscoveryResponse<T>(
  file: string,
  text: string,
  parser: ResourceParser<T>,
): DiscoveryUpdate<T> {
  const issues = new IssueList();
  const sources = new YamlSources(issues);
  const root = sources.parse(file, text);
  if (root === null) throw new ConfigError(issues.sorted());
  const session = new ReaderSession(sources, issues);
  const response = session.root(root);
  const versionInfo = response.string('version_info');
  const typeUrl = response.string('type_url');
  if (typeUrl !== '' && messageName(typeUrl) !== messageName(parser.typeUrl))
    response.error('type_url', `expected ${parser.typeUrl} here, found ${typeUrl}`);
  // Meaningful between a client and a server only; a file has neither.
  for (const field of ['nonce', 'canary', 'control_plane']) response.raw(field);
  const readers = response.objectArray('resources');
  for (const r of readers) {
    const type = r.requiredString('@type');
    if (type !== '' && messageName(type) !== messageName(parser.typeUrl)) {
      r.error('@type', `expected ${parser.typeUrl}, found ${type}`);
      r.followsFrom('', `${r.path}.@type`);
    }
  }
  const resources = parser.parse(readers);
  session.finishAll();
  if (!issues.hasErrors && parser.check) session.addBuildProblems(parser.check(resources));
  if (issues.hasErrors) throw new ConfigError(issues.sorted());
  const raw = (root.toJSON() as { resources?: unknown[] }).resources ?? [];
  return { versionInfo, resources, raw, warnings: issues.warnings() };
}

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` → `envoy.config.cluster.v3.Cluster`. */
function messageName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}
