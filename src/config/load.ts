/**
 * Loads Envoy v3 bootstrap config (YAML or JSON) into the normalised `Bootstrap`, collecting every
 * issue first and throwing one `ConfigError` if any is an error. Warnings (deprecated names and
 * fields) are returned for the caller to print.
 */
import { readFileSync } from 'node:fs';
import { stringify, type YAMLMap } from 'yaml';
import type { Bootstrap } from './bootstrap';
import type { BuildProblem } from './build-error';
import type { ConfigIssue } from './config-reader';
import type { Registry } from '../registry/registry';
import { ConfigError, IssueList } from './config-error';
import { ReaderSession } from './object-reader';
import { parseBootstrap } from './parse-bootstrap';
import { YamlSources } from './yaml-source';

export interface LoadOptions {
  /** `-c`: a YAML or JSON file. */
  path?: string;
  /** `--config-yaml`: merged over the file as protobuf MergeFrom does. */
  configYaml?: string;
  /**
   * Runs after a parse without errors: builds what a worker builds from the bootstrap (the CLI
   * passes worker/data-plane.ts `checkDataPlane`) and returns what failed, by config path. Each
   * problem becomes an error located where that path is written.
   */
  check?: (bootstrap: Bootstrap) => readonly BuildProblem[];
}

export interface LoadResult {
  bootstrap: Bootstrap;
  warnings: ConfigIssue[];
  /** The merged config as the user wrote it (plain JSON data), for the admin's /config_dump. */
  raw: unknown;
}

/** Where `--config-yaml` issues point. */
export const CONFIG_YAML_SOURCE = '<config-yaml>';

export function loadBootstrap(opts: LoadOptions, registry: Registry): LoadResult {
  const issues = new IssueList();
  const sources = new YamlSources(issues);
  const texts: { name: string; text: string }[] = [];
  if (opts.path !== undefined) {
    const text = readConfigFile(opts.path, issues);
    if (text !== null) texts.push({ name: opts.path, text });
  }
  if (opts.configYaml !== undefined) texts.push({ name: CONFIG_YAML_SOURCE, text: opts.configYaml });
  if (opts.path === undefined && opts.configYaml === undefined) {
    issues.add(
      {
        location: '<command line>',
        path: '',
        message: 'no configuration given: use -c <file> or --config-yaml',
        severity: 'error',
      },
      0,
    );
  }
  const roots = texts.map((t) => sources.parse(t.name, t.text));
  if (issues.hasErrors) throw new ConfigError(issues.sorted());
  return buildBootstrap(mergeRoots(roots as YAMLMap[], sources), sources, issues, registry, opts);
}

/**
 * Builds a Bootstrap from a plain object in Envoy's shape (the CLI's short form) through the same
 * parser and checks as a file, so short-form mistakes get the same messages. Locations point into
 * the YAML rendering of `config` under the name `origin`.
 */
export function bootstrapFromObject(
  config: object,
  registry: Registry,
  origin = '<command line>',
  check?: LoadOptions['check'],
): LoadResult {
  const issues = new IssueList();
  const sources = new YamlSources(issues);
  const root = sources.parse(origin, stringify(config));
  if (!root) throw new ConfigError(issues.sorted());
  return buildBootstrap(root, sources, issues, registry, { check });
}

function buildBootstrap(
  root: YAMLMap,
  sources: YamlSources,
  issues: IssueList,
  registry: Registry,
  opts: LoadOptions,
): LoadResult {
  const session = new ReaderSession(sources, issues);
  const bootstrap = parseBootstrap(session.root(root), registry, opts.path ?? '');
  session.finishAll();
  if (!issues.hasErrors && opts.check) session.addBuildProblems(opts.check(bootstrap));
  if (issues.hasErrors) throw new ConfigError(issues.sorted());
  return { bootstrap, warnings: issues.warnings(), raw: root.toJSON() as unknown };
}

function readConfigFile(path: string, issues: IssueList): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    issues.add(
      {
        location: path,
        path: '',
        message: `cannot read config file: ${(e as Error).message}`,
        severity: 'error',
      },
      0,
    );
    return null;
  }
}

/** The file's mapping with `--config-yaml` merged over it. */
function mergeRoots(roots: YAMLMap[], sources: YamlSources): YAMLMap {
  const [base, ...overlays] = roots;
  for (const overlay of overlays) sources.merge(base!, overlay);
  return base!;
}
