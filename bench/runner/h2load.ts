/**
 * h2load (nghttp2) as the load generator of HTTP/2 scenarios (`"generator": "h2load"`): h2c with
 * prior knowledge, `connections` × `streams` concurrent requests, closed loop, for the run's
 * duration (`-D`). With `grpcMessageBytes` each request is a gRPC unary call: POST, content-type
 * application/grpc, te: trailers, one message frame of that size (h2load checks the HTTP status
 * only, not grpc-status). Latency comes from h2load's per-request log (`--log-file`), put into the
 * same HdrHistogram the legate generator uses.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createLatencyHistogram,
  percentileCurve,
  summarizeLatency,
  type LatencySummary,
} from '../../src/bench/histogram';
import { emptyErrorCounts, type ErrorCounts } from '../../src/bench/error-counts';
import type { HttpLoad } from './scenario';

export interface H2loadResult {
  /** Requests that completed with a 2xx. */
  requests: number;
  rps: number;
  latency: LatencySummary;
  percentiles: Array<[number, number]>;
  errors: ErrorCounts;
}

/** The gRPC request body: one uncompressed message frame of `bytes` bytes. */
function grpcFrame(bytes: number): Buffer {
  const frame = Buffer.alloc(5 + bytes, 'g');
  frame[0] = 0;
  frame.writeUInt32BE(bytes, 1);
  return frame;
}

export function runH2load(
  url: string,
  load: HttpLoad,
  durationMs: number,
  scratchDir: string,
): Promise<H2loadResult> {
  const logPath = join(scratchDir, 'h2load-requests.log');
  const args = [
    '-c',
    String(load.connections),
    '-m',
    String(load.streams),
    '-t',
    String(load.threads),
    '-D',
    String(Math.max(1, Math.round(durationMs / 1000))),
    `--log-file=${logPath}`,
  ];
  if (load.grpcMessageBytes > 0) {
    const body = join(scratchDir, 'h2load-grpc-call.bin');
    writeFileSync(body, grpcFrame(load.grpcMessageBytes));
    args.push('-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
  }
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`h2load exited with ${code}: ${out.trim()}`);
        resolve(parseH2load(out, readFileSync(logPath, 'latin1')));
      } catch (err) {
        reject(err);
      } finally {
        rmSync(logPath, { force: true });
      }
    });
  });
}

/** h2load's text report and its per-request log (start µs, status, duration µs; tab-separated). Exported for tests. */
export function parseH2load(report: string, requestLog: string): H2loadResult {
  const rps = Number(/^finished in [^,]+, ([\d.]+) req\/s/m.exec(report)?.[1]);
  const counts =
    /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(
      report,
    );
  const statuses = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(report);
  if (!Number.isFinite(rps) || counts === null || statuses === null)
    throw new Error(`cannot parse h2load output:\n${report}`);
  const errors = emptyErrorCounts();
  errors.non2xx = Number(statuses[2]) + Number(statuses[3]) + Number(statuses[4]);
  errors.reset = Number(counts[6]);
  errors.timeout = Number(counts[7]);
  const histogram = createLatencyHistogram();
  for (const line of requestLog.split('\n')) {
    const [, status, micros] = line.split('\t');
    if (status !== undefined && micros !== undefined && status !== '-1')
      histogram.recordValue(Number(micros));
  }
  return {
    requests: Number(statuses[1]),
    rps,
    latency: summarizeLatency(histogram),
    percentiles: percentileCurve(histogram),
    errors,
  };
}
