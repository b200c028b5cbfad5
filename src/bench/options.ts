/**
 * `legate bench` command-line options: parsed with `node:util` parseArgs and validated once, so the
 * generator threads get plain, already-checked data. Every rejection is a `BenchUsageError` whose
 * message names the flag and what was expected; the CLI prints it and exits 2.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export interface BenchTarget {
  /** The URL as given, for reports. */
  url: string;
  /** Host name or IP literal from the URL (resolved to `address` before the run). */
  hostname: string;
  port: number;
  /** Path plus query, as sent on the request line. */
  path: string;
  /** Value of the Host header. */
  hostHeader: string;
}

export interface BenchOptions {
  target: BenchTarget;
  connections: number;
  threads: number;
  durationMs: number;
  /** Requests per second over all connections; 0 = closed loop (as fast as responses come back). */
  rate: number;
  /** Requests a connection may have in flight at once (HTTP/1.1 pipelining); 1 = no pipelining. */
  pipeline: number;
  /** New connection per request, with `Connection: close`. */
  http1Close: boolean;
  method: string;
  /** Extra request header lines, already validated as `Name: value`. */
  headers: string[];
  body: Buffer;
  timeoutMs: number;
  /** Name of this run in reports (defaults to the URL). */
  label: string;
  jsonPath: string | undefined;
  hgrmPath: string | undefined;
  htmlPath: string | undefined;
  /** Print the progress line while running. */
  progress: boolean;
  /** Print the per-second timeline after the table. */
  timeline: boolean;
}

export const BENCH_USAGE = `usage: legate bench URL [options]

  -c, --connections N   open connections, spread over the threads (default 10)
  -d, --duration T      test duration: 10s, 500ms, 2m (default 10s)
  -t, --threads N       generator threads (default 1)
  -R, --rate N          constant rate in requests/s over all connections (wrk2-style,
                        latency measured from the intended send time); omit for closed loop
  -p, --pipeline N      requests in flight per connection (HTTP/1.1 pipelining, default 1)
      --http1-close     one connection per request ("Connection: close")
  -m, --method M        request method (default GET)
  -H, --header 'N: v'   add a request header (repeatable)
      --body FILE       send FILE as the request body
      --body-size N     send an N-byte request body
      --timeout T       a response slower than this is a timeout error (default 2s)
      --label NAME      name of this run in the HTML report (default: the URL)
      --json FILE       write the results as JSON
      --hgrm FILE       write the HdrHistogram percentile distribution (.hgrm)
      --html FILE       write (or add this run to) a self-contained HTML latency report
      --timeline        also print a per-second table (requests, errors, p50, p99 of
                        the requests intended in each second; always in --json)
      --no-progress     no progress line while running
`;

/** Parses `10s`, `500ms`, `2m`, `1.5s` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new BenchUsageError(`${flag}: expected a duration like 10s, 500ms or 2m, got '${text}'`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  const ms = Number(m[1]) * scale;
  if (ms <= 0) throw new BenchUsageError(`${flag}: must be greater than zero, got '${text}'`);
  return ms;
}

function parsePositiveInt(text: string | undefined, flag: string, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new BenchUsageError(`${flag}: expected an integer >= ${min}, got '${text}'`);
  }
  return Number(text);
}

/** Accepts `http://host[:port][/path]`; anything else (https, no host, junk) is a usage error. */
export function parseTarget(text: string): BenchTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchUsageError(`cannot parse URL '${text}': expected http://host[:port]/path`);
  }
  if (url.protocol !== 'http:') {
    throw new BenchUsageError(`unsupported scheme '${url.protocol}' in '${text}': only http:// is supported`);
  }
  if (url.hostname === '') throw new BenchUsageError(`URL '${text}' has no host`);
  const port = url.port === '' ? 80 : Number(url.port);
  // URL keeps IPv6 literals bracketed; sockets want them bare.
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url: text, hostname, port, path: url.pathname + url.search, hostHeader: url.host };
}

const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/;

function parseHeader(text: string): string {
  const m = HEADER_LINE.exec(text);
  if (!m) throw new BenchUsageError(`-H: expected 'Name: value', got '${text}'`);
  return `${m[1]}: ${m[2]}`;
}

function loadBody(file: string | undefined, size: string | undefined): Buffer {
  if (file !== undefined && size !== undefined)
    throw new BenchUsageError('--body and --body-size are exclusive');
  if (file !== undefined) {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new BenchUsageError(`--body: cannot read '${file}': ${(err as Error).message}`);
    }
  }
  if (size !== undefined) return Buffer.alloc(parsePositiveInt(size, '--body-size', 0, 0), 'x');
  return Buffer.alloc(0);
}

/** Parses and validates `legate bench` arguments. Throws `BenchUsageError`. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        connections: { type: 'string', short: 'c' },
        duration: { type: 'string', short: 'd' },
        threads: { type: 'string', short: 't' },
        rate: { type: 'string', short: 'R' },
        pipeline: { type: 'string', short: 'p' },
        'http1-close': { type: 'boolean' },
        method: { type: 'string', short: 'm' },
        header: { type: 'string', short: 'H', multiple: true },
        body: { type: 'string' },
        'body-size': { type: 'string' },
        timeout: { type: 'string' },
        label: { type: 'string' },
        json: { type: 'string' },
        hgrm: { type: 'string' },
        html: { type: 'string' },
        'no-progress': { type: 'boolean' },
        timeline: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new BenchUsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) {
    throw new BenchUsageError(
      positionals.length === 0 ? 'missing URL' : `expected one URL, got ${positionals.length}`,
    );
  }
  const target = parseTarget(positionals[0]!);
  const connections = parsePositiveInt(v.connections, '--connections', 10);
  const threads = parsePositiveInt(v.threads, '--threads', 1);
  if (threads > connections) {
    throw new BenchUsageError(`--threads (${threads}) must not exceed --connections (${connections})`);
  }
  const rate = v.rate === undefined ? 0 : Number(v.rate);
  if (v.rate !== undefined && !(Number.isFinite(rate) && rate > 0))
    throw new BenchUsageError(`--rate: expected a positive number, got '${v.rate}'`);
  const pipeline = parsePositiveInt(v.pipeline, '--pipeline', 1);
  const http1Close = v['http1-close'] === true;
  if (http1Close && pipeline > 1)
    throw new BenchUsageError('--pipeline cannot be combined with --http1-close');
  const method = (v.method ?? 'GET').toUpperCase();
  if (!/^[A-Z]+$/.test(method))
    throw new BenchUsageError(`--method: expected a token like GET, got '${v.method}'`);
  return {
    target,
    connections,
    threads,
    durationMs: v.duration === undefined ? 10_000 : parseDuration(v.duration, '--duration'),
    rate,
    pipeline,
    http1Close,
    method,
    headers: (v.header ?? []).map(parseHeader),
    body: loadBody(v.body, v['body-size']),
    timeoutMs: v.timeout === undefined ? 2000 : parseDuration(v.timeout, '--timeout'),
    label: v.label ?? target.url,
    jsonPath: v.json,
    hgrmPath: v.hgrm,
    htmlPath: v.html,
    progress: v['no-progress'] !== true,
    timeline: v.timeline === true,
  };
}
