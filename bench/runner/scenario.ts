/**
 * Scenario files (`bench/scenarios/*.json`): what origin, which systems with which baseline, and
 * the load shape. Validated when loaded so a typo fails before anything starts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../../src/bench/options';
import type { FailoverSpec } from './failover';
import type { OriginSpec } from './origins';
import { SYSTEMS, type LbPolicy, type ProxyMode } from './systems';

export interface HttpLoad {
  path: string;
  connections: number;
  threads: number;
  durationMs: number;
  http1Close: boolean;
  /** Fixed constant rate (req/s); 0 = closed loop unless `rateFractions` is set. */
  rate: number;
  /**
   * Who generates the load: Legate's own generator (default), wrk, or h2load (HTTP/2 h2c; both
   * closed loop only).
   */
  generator: 'legate' | 'wrk' | 'h2load';
  /** h2load: concurrent streams per connection (`-m`). */
  streams: number;
  /** h2load: each request is a gRPC unary call (POST, application/grpc) with a message of this many bytes; 0: GET. */
  grpcMessageBytes: number;
}

/** Something the runner does to an origin during each measured run (failover scenarios). */
export interface ScenarioEvent {
  /** Time into the measured load, ms. */
  atMs: number;
  /** `kill-origin`: SIGKILL (connections reset); `start-origin`: the same origin again, same port. */
  action: 'kill-origin' | 'start-origin';
  /** Index into the scenario's node origins. */
  origin: number;
}

export interface Scenario {
  name: string;
  title: string;
  /**
   * `idle-memory`: `load.connections` keep-alive connections, one request each, left open; the
   * system's resident memory per connection once it has settled (lower is better).
   */
  kind: 'http' | 'tcp-bulk' | 'idle-memory';
  /**
   * How the proxies are configured: `tcp` for tcp-bulk, and for an http scenario that puts L4
   * proxies in front of an HTTP origin (`"proxyMode": "tcp"`, e.g. connections per second).
   */
  proxyMode: ProxyMode;
  origin: OriginSpec;
  systems: string[];
  baseline: string;
  lb: LbPolicy;
  load: HttpLoad;
  /** Constant-rate variants at these fractions of `baseline`'s closed-loop maximum (measured first). */
  rateFractions: number[];
  /** tcp-bulk: origin sends (download, `iperf3 -R`) instead of the client. */
  reverse: boolean;
  reps: number;
  /** Part of the short default set (`npm run bench`). */
  inDefaultSet: boolean;
  /** Health checking and retry settings for every system (null: the plain configs). */
  failover: FailoverSpec | null;
  /** Timed actions during each measured run, in time order; the run keeps its own duration. */
  events: ScenarioEvent[];
}

type Json = Record<string, unknown>;

function fail(file: string, message: string): never {
  throw new Error(`${file}: ${message}`);
}

export function parseScenario(raw: Json, file: string): Scenario {
  const str = (v: unknown, field: string): string =>
    typeof v === 'string' ? v : fail(file, `'${field}' must be a string`);
  const num = (v: unknown, field: string, fallback: number): number =>
    v === undefined
      ? fallback
      : typeof v === 'number' && v >= 0
        ? v
        : fail(file, `'${field}' must be a number >= 0`);
  const systems = Array.isArray(raw.systems)
    ? raw.systems.map((s, i) => str(s, `systems[${i}]`))
    : fail(file, "'systems' must be a list");
  for (const s of systems)
    if (!SYSTEMS.has(s)) fail(file, `unknown system '${s}' (known: ${[...SYSTEMS.keys()].join(', ')})`);
  const baseline = str(raw.baseline, 'baseline');
  if (!systems.includes(baseline)) fail(file, `baseline '${baseline}' is not among the systems`);
  const kind =
    raw.kind === 'tcp-bulk' || raw.kind === 'http' || raw.kind === 'idle-memory'
      ? raw.kind
      : fail(file, "'kind' must be http, tcp-bulk or idle-memory");
  const proxyMode =
    raw.proxyMode === undefined
      ? kind === 'tcp-bulk'
        ? 'tcp'
        : 'http'
      : raw.proxyMode === 'tcp' ||
          ((raw.proxyMode === 'http' || raw.proxyMode === 'h2' || raw.proxyMode === 'grpc') &&
            kind === 'http')
        ? raw.proxyMode
        : fail(file, "'proxyMode' must be tcp, or http, h2 or grpc for an http scenario");
  for (const s of systems)
    if (!SYSTEMS.get(s)!.modes.includes(proxyMode)) fail(file, `system '${s}' has no ${proxyMode} mode`);
  const load = (raw.load ?? {}) as Json;
  const origin = (raw.origin ?? {}) as Json;
  const originSpec: OriginSpec =
    origin.type === 'nginx-static' || origin.type === 'iperf3' || origin.type === 'grpc-node'
      ? { type: origin.type }
      : origin.type === 'node' && Array.isArray(origin.delaysMs)
        ? { type: 'node', delaysMs: origin.delaysMs.map((d, i) => num(d, `origin.delaysMs[${i}]`, 0)) }
        : fail(
            file,
            "'origin' must be {type: nginx-static|iperf3|grpc-node} or {type: node, delaysMs: [...]}",
          );
  const lb =
    raw.lb === undefined || raw.lb === 'round_robin'
      ? 'round_robin'
      : raw.lb === 'least_request' || raw.lb === 'peak_ewma'
        ? raw.lb
        : fail(file, "'lb' must be round_robin, least_request or peak_ewma");
  const failover =
    raw.failover === undefined
      ? null
      : typeof raw.failover === 'object' && raw.failover !== null && proxyMode === 'http'
        ? { retries: (raw.failover as Json).retries === true }
        : fail(file, "'failover' must be an object {retries: boolean}, in an http-mode scenario");
  const events = parseEvents(raw.events, originSpec, file);
  return {
    name: str(raw.name, 'name'),
    title: str(raw.title, 'title'),
    kind,
    proxyMode,
    origin: originSpec,
    systems,
    baseline,
    lb,
    load: {
      path: load.path === undefined ? '/' : str(load.path, 'load.path'),
      connections: num(load.connections, 'load.connections', 50),
      threads: num(load.threads, 'load.threads', 1),
      durationMs: parseDuration(
        load.duration === undefined ? '10s' : str(load.duration, 'load.duration'),
        `${file}: load.duration`,
      ),
      http1Close: load.http1Close === true,
      rate: num(load.rate, 'load.rate', 0),
      generator:
        load.generator === undefined || load.generator === 'legate'
          ? 'legate'
          : load.generator === 'wrk' || load.generator === 'h2load'
            ? load.generator
            : fail(file, "'load.generator' must be legate, wrk or h2load"),
      streams: num(load.streams, 'load.streams', 1),
      grpcMessageBytes: num(load.grpcMessageBytes, 'load.grpcMessageBytes', 0),
    },
    rateFractions: Array.isArray(raw.rateFractions)
      ? raw.rateFractions.map((f, i) => num(f, `rateFractions[${i}]`, 0))
      : [],
    reverse: raw.reverse === true,
    reps: num(raw.reps, 'reps', 3),
    inDefaultSet: raw.default !== false,
    failover,
    events,
  };
}

function parseEvents(raw: unknown, origin: OriginSpec, file: string): ScenarioEvent[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail(file, "'events' must be a list");
  const events = raw.map((e: Json, i): ScenarioEvent => {
    const where = `events[${i}]`;
    if (e.action !== 'kill-origin' && e.action !== 'start-origin')
      fail(file, `${where}.action must be kill-origin or start-origin`);
    if (origin.type !== 'node') fail(file, `${where}: events need node origins (one process per origin)`);
    if (
      !Number.isInteger(e.origin) ||
      (e.origin as number) < 0 ||
      (e.origin as number) >= origin.delaysMs.length
    )
      fail(file, `${where}.origin must be an index into origin.delaysMs (0-${origin.delaysMs.length - 1})`);
    if (typeof e.at !== 'string') fail(file, `${where}.at must be a duration like "5s"`);
    return {
      atMs: parseDuration(e.at, `${file}: ${where}.at`),
      action: e.action,
      origin: e.origin as number,
    };
  });
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** The external programs the scenario's load generator needs (the legate generator is built in). */
export function generatorPrograms(sc: Scenario): string[] {
  return sc.kind === 'http' && sc.load.generator !== 'legate' ? [sc.load.generator] : [];
}

/** Every scenario in `<benchDir>/scenarios`, sorted by file name. */
export function loadScenarios(benchDir: string): Scenario[] {
  const dir = join(benchDir, 'scenarios');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) =>
      parseScenario(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Json, join('bench/scenarios', f)),
    );
}
