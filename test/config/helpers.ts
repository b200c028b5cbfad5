/** Shared by the config tests: load YAML text and get either the bootstrap or the issues. */
import { REPO_ROOT } from '../repo-root';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { Bootstrap } from '../../src/config/bootstrap';
import { ConfigError } from '../../src/config/config-error';
import type { ConfigIssue } from '../../src/config/config-reader';
import { loadBootstrap, type LoadResult } from '../../src/config/load';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import type { Registry } from '../../src/registry/registry';

export const SEED_PATH = join(REPO_ROOT, 'examples', 'seed-envoy.yaml');
export const QUICKSTART_PATH = join(REPO_ROOT, 'examples', 'quickstart.yaml');

const dir = mkdtempSync(join(tmpdir(), 'legate-config-test-'));
let files = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

/** A path called `name` in this test file's temporary directory (removed after the file). */
export function tempPath(name: string): string {
  return join(dir, name);
}

/** Writes `text` to a fresh file called `name` and returns its path. */
export function writeConfig(text: string, name = `config-${files++}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export function load(text: string, registry: Registry = createBuiltinRegistry()): LoadResult {
  return loadBootstrap({ configYaml: text }, registry);
}

export function loadOk(text: string): Bootstrap {
  return load(text).bootstrap;
}

/** Loads `text`, which must fail, and returns every issue. */
export function issuesOf(text: string, registry: Registry = createBuiltinRegistry()): ConfigIssue[] {
  try {
    load(text, registry);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return [...e.issues];
  }
  assert.fail('expected the config to be rejected');
}

/** The single error whose path is `path`. */
export function errorAt(issues: ConfigIssue[], path: string): ConfigIssue {
  const found = issues.filter((i) => i.severity === 'error' && i.path === path);
  assert.equal(
    found.length,
    1,
    `expected one error at ${path}, got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`,
  );
  return found[0]!;
}

/**
 * A minimal valid config: listener l0 on 127.0.0.1:10000 routing "/" to cluster c0. Each part is
 * YAML spliced in at the right indentation: `listener`, `hcm` and `cluster` add fields, `route`
 * replaces the route action, `moreRoutes` adds routes after it, `httpFilters` the filter list, and `tail` is appended at the end.
 */
export function minimalConfig(
  parts: {
    hcm?: string;
    route?: string;
    moreRoutes?: string;
    httpFilters?: string;
    cluster?: string;
    listener?: string;
    tail?: string;
  } = {},
): string {
  return `static_resources:
  listeners:
  - name: l0
    address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
${indent(parts.listener, 4)}    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
${indent(parts.hcm, 10)}          route_config:
            virtual_hosts:
            - name: vh
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
${parts.route === undefined ? '                route: { cluster: c0 }\n' : indent(parts.route, 16)}${indent(parts.moreRoutes, 14)}          http_filters:
${indent(parts.httpFilters ?? '- name: envoy.filters.http.router', 10)}  clusters:
  - name: c0
    load_assignment:
      cluster_name: c0
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
${indent(parts.cluster, 4)}${parts.tail ?? ''}`;
}

function indent(text: string | undefined, spaces: number): string {
  if (text === undefined) return '';
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => ' '.repeat(spaces) + l + '\n')
    .join('');
}

/** `<config-yaml>:line:col` of the first occurrence of `needle` in `text` (at or after line `from`). */
export function locationOf(text: string, needle: string, from = 1): string {
  const lines = text.split('\n');
  for (let i = from - 1; i < lines.length; i++) {
    const col = lines[i]!.indexOf(needle);
    if (col !== -1) return `<config-yaml>:${i + 1}:${col + 1}`;
  }
  assert.fail(`'${needle}' not found`);
}

/**
 * Built-ins (tcp_proxy among them: terminal, with its deprecated alias, naming a cluster) plus
 * stand-ins for a non-terminal HTTP filter and network filter.
 */
export function registryWithTestFilters(): Registry {
  const registry = createBuiltinRegistry();
  registry.register({
    category: 'http_filter',
    name: 'test.http.noop',
    typeUrls: [],
    parseConfig: () => ({}),
  });
  registry.register({
    category: 'network_filter',
    name: 'test.network.noop',
    typeUrls: [],
    parseConfig: () => ({}),
  });
  return registry;
}

/** A listener entry (for static_resources.listeners) whose only filter is `filter` (YAML lines). */
export function listenerYaml(name: string, address: string, port: number, filter: string): string {
  return `  - name: ${name}
    address: { socket_address: { address: ${address}, port_value: ${port} } }
    filter_chains:
    - filters:
${filter
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => `      ${l}\n`)
  .join('')}`;
}

export const TCP_PROXY_FILTER = `- name: envoy.filters.network.tcp_proxy
  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcp, cluster: c0 }`;

/** Listeners (YAML entries) plus the cluster c0 they may name. */
export function withListeners(...listeners: string[]): string {
  return `static_resources:
  listeners:
${listeners.join('')}  clusters:
  - name: c0
    load_assignment:
      cluster_name: c0
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`;
}
