/**
 * wrk as the load generator of a scenario (`"generator": "wrk"`): the HTTP core issue compares
 * proxies with "the same wrk command", and wrk's per-request cost is the lowest of the closed-loop
 * tools here. Closed loop only (Debian has no wrk2). Latency comes from `--latency` (p50/75/90/99).
 */
import { spawn } from 'node:child_process';
import type { LatencySummary } from '../../src/bench/histogram';
import { emptyErrorCounts, type ErrorCounts } from '../../src/bench/error-counts';
import type { HttpLoad } from './scenario';

export interface WrkResult {
  requests: number;
  rps: number;
  latency: LatencySummary;
  errors: ErrorCounts;
}

export function runWrk(url: string, load: HttpLoad, durationMs: number): Promise<WrkResult> {
  const args = [
    `-t${load.threads}`,
    `-c${load.connections}`,
    `-d${Math.max(1, Math.round(durationMs / 1000))}s`,
    '--latency',
  ];
  if (load.http1Close) args.push('-H', 'Connection: close');
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out.trim()}`));
      try {
        resolve(parseWrkOutput(out));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Parses wrk 4's text report. Exported for tests. */
export function parseWrkOutput(out: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(requests) || !Number.isFinite(rps))
    throw new Error(`cannot parse wrk output:\n${out}`);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const maxMatch = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
  const max = maxMatch
    ? Number(maxMatch[1]) * (maxMatch[2] === 'us' ? 0.001 : maxMatch[2] === 's' ? 1000 : 1)
    : NaN;
  const errors = emptyErrorCounts();
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (sock) {
    errors.connect = Number(sock[1]);
    errors.reset = Number(sock[2]) + Number(sock[3]);
    errors.timeout = Number(sock[4]);
  }
  errors.non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    requests,
    rps,
    errors,
    latency: {
      p50: pct('50'),
      p75: pct('75'),
      p90: pct('90'),
      p99: pct('99'),
      'p99.9': NaN,
      'p99.99': NaN,
      max,
      mean: NaN,
      stdev: NaN,
    },
  };
}
