/** Fixtures for HTTP filter tests: the harness's proxies with extra HTTP filters. */
import { after, before } from 'node:test';
import {
  catchAllYaml,
  startLegate,
  startOrigin,
  type LegateProcess,
  type Origin,
} from '../integration/harness';

/** `catchAllYaml(ports)` with `filters` (YAML list items) placed before the router. */
export function withHttpFilters(ports: number[], filters: string): string {
  return insertHttpFilters(catchAllYaml(ports), filters);
}

/** A harness config (`httpProxyYaml`, `catchAllYaml`) with `filters` placed before the router. */
export function insertHttpFilters(yaml: string, filters: string): string {
  const marker = '          http_filters:\n';
  const at = yaml.indexOf(marker) + marker.length;
  const items = filters
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => ' '.repeat(10) + l)
    .join('\n');
  return `${yaml.slice(0, at)}${items}\n${yaml.slice(at)}`;
}

export interface FilterProxies {
  /** The origin every proxy of this file forwards to (started before the tests). */
  readonly origin: Origin;
  /** Starts a proxy (`--concurrency 2`) with `filters` before the router; stopped after the file. */
  start(filters: string): Promise<{ legate: LegateProcess; port: number }>;
  /** The same with a whole config (its HTTP listener named `proxy`). */
  startYaml(yaml: string): Promise<{ legate: LegateProcess; port: number }>;
}

/** Registers the file's before/after hooks: one origin, and every proxy started is stopped. */
export function useFilterProxies(): FilterProxies {
  const started: LegateProcess[] = [];
  let origin: Origin | null = null;
  before(async () => {
    origin = await startOrigin();
  });
  after(async () => {
    for (const l of started) await l.stop();
    await origin?.close();
  });
  return {
    get origin(): Origin {
      return origin!;
    },
    start(filters: string) {
      return this.startYaml(withHttpFilters([origin!.port], filters));
    },
    async startYaml(yaml: string) {
      const legate = await startLegate(yaml, { concurrency: 2 });
      started.push(legate);
      return { legate, port: legate.ports.get('proxy')! };
    },
  };
}
