/**
 * Runs matrix cells (shape × peer) through one proxy under test and judges each cell against the
 * shape's expected outcome, adjusted by the proxy's intended differences (`targets.ts`).
 *
 * Every cell has its own raw origin and its own route (`/c<id>/` → cluster `c<id>`), so cells run
 * concurrently without sharing an upstream pool, and the origin's connection count is the cell's
 * upstream connection count. One proxy serves every cell of a run.
 */
import { sha256, startRawOrigin, type RawOrigin } from '../support/raw-origin';
import { runSequence, type PeerMode, type SequenceResult } from '../support/raw-client';
import { header, type Framing, type Header } from '../support/http1-wire';
import { REQUESTS_PER_CELL, type Expected, type Shape } from './shapes';

export interface Cell {
  /** Position in the full matrix (a run may take a subset; its routes are numbered by position in the run). */
  id: number;
  shape: Shape;
  peer: PeerMode;
}

/** A cell where a proxy differs from the common expectation on purpose. */
export interface IntendedDifference {
  /** Why, one entry per documented limit or choice that applies. */
  reasons: string[];
  /** Replaces fields of the shape's expectation. */
  expected: Partial<MatrixExpected>;
  /** Observations a differential run must not compare for this cell (beyond those `expected` covers). */
  differsIn?: ComparedField[];
}

/** What a differential run compares between two proxies (see differential.ts). */
export type ComparedField =
  | 'exchanges'
  | 'status'
  | 'body'
  | '1xx'
  | 'trailers'
  | 'framing'
  | 'upstream connections'
  | 'downstream connections';

export interface MatrixExpected extends Expected {
  /**
   * The proxy closes a pipelining client's connection before answering every request (uWS): the
   * cell then expects a close and checks only the responses that did arrive.
   */
  closesPipelinedConnection?: boolean;
}

export interface RunningProxy {
  port: number;
  stop(): Promise<void>;
}

/** A proxy the matrix runs against: a Legate variant (codec × native × engine) or a reference proxy. */
export interface ProxyTarget {
  name: string;
  /** Starts the proxy with route `/c<i>/` to 127.0.0.1:`originPorts[i]` (pooled, keep-alive upstreams). */
  start(originPorts: number[]): Promise<RunningProxy>;
  difference(cell: Cell): IntendedDifference | null;
  /** Why this proxy cannot serve the cell at all (it is left out of its runs), or null. */
  unsupported?(cell: Cell): string | null;
}

/** What a client and the origin saw in one exchange, normalised for comparison. */
export interface ExchangeSummary {
  error?: string;
  ms: number;
  status?: number;
  informational: number[];
  bodyLength: number;
  bodySha256: string;
  trailers: Header[];
  framing?: Framing;
  contentLength?: string;
  transferEncoding?: string;
  connectionHeader?: string;
  /** 1-based downstream connection it went on. */
  connection: number;
}

export interface Observation {
  exchanges: ExchangeSummary[];
  downstreamConnections: number;
  upstreamConnections: number;
  /** Targets the origin received, in order. */
  originTargets: string[];
  originViolations: string[];
  originCutOff: number;
}

export interface CellOutcome {
  cell: Cell;
  difference: IntendedDifference | null;
  observation: Observation;
  failures: string[];
}

export interface RunOptions {
  /** A request slower than this fails its cell (route timeouts are set above it, so a hang shows here). */
  boundMs: number;
  /** Cells in flight at once. */
  concurrency: number;
  /** slow peers: reading paused this long after each request. */
  pauseMs: number;
  /** slow peers: gap between request pieces. */
  pieceGapMs: number;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = {
  boundMs: 2000,
  concurrency: 12,
  pauseMs: 100,
  pieceGapMs: 5,
};

/** Every (shape, peer) cell of `shapes`, numbered from 0. */
export function matrixCells(shapes: Shape[]): Cell[] {
  const cells: Cell[] = [];
  for (const shape of shapes) for (const peer of shape.peers) cells.push({ id: cells.length, shape, peer });
  return cells;
}

/** Runs `cells` through `target` and judges each one; outcomes are in the order of `cells`. */
export async function runMatrix(
  target: ProxyTarget,
  cells: Cell[],
  options: RunOptions = DEFAULT_RUN_OPTIONS,
): Promise<CellOutcome[]> {
  const origins: RawOrigin[] = await Promise.all(cells.map((c) => startRawOrigin(c.shape.origin)));
  try {
    const proxy = await target.start(origins.map((o) => o.port));
    try {
      const outcomes: CellOutcome[] = new Array(cells.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < cells.length) {
          const i = next++;
          outcomes[i] = await runCell(target, cells[i]!, `/c${i}`, origins[i]!, proxy.port, options);
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, cells.length) }, worker));
      return outcomes;
    } finally {
      await proxy.stop();
    }
  } finally {
    await Promise.all(origins.map((o) => o.close()));
  }
}

/** Runs one cell, whose route is `prefix` (`/c<position in the run>`). */
async function runCell(
  target: ProxyTarget,
  cell: Cell,
  prefix: string,
  origin: RawOrigin,
  port: number,
  options: RunOptions,
): Promise<CellOutcome> {
  const requests = Array.from({ length: REQUESTS_PER_CELL }, (_, i) => cell.shape.request(i, prefix));
  const sequence = await runSequence(port, requests, {
    mode: cell.peer,
    boundMs: options.boundMs,
    pauseMs: options.pauseMs,
    pieceGapMs: options.pieceGapMs,
  });
  const observation = observe(sequence, origin);
  const difference = target.difference(cell);
  const expected: MatrixExpected = { ...cell.shape.expected, ...difference?.expected };
  return {
    cell,
    difference,
    observation,
    failures: judge(cell, prefix, expected, observation, options.boundMs),
  };
}

function observe(sequence: SequenceResult, origin: RawOrigin): Observation {
  return {
    exchanges: sequence.results.map((r) => {
      const response = r.response;
      const headers = response?.head.headers ?? [];
      return {
        error: r.error,
        ms: r.ms,
        status: response?.head.status,
        informational: response?.informational.map((h) => h.status) ?? [],
        bodyLength: response?.body.data.length ?? 0,
        bodySha256: response ? sha256(response.body.data) : '',
        trailers: response?.body.trailers ?? [],
        framing: response?.framing,
        contentLength: header(headers, 'content-length'),
        transferEncoding: header(headers, 'transfer-encoding'),
        connectionHeader: header(headers, 'connection'),
        connection: r.connection,
      };
    }),
    downstreamConnections: sequence.connections,
    upstreamConnections: origin.connections,
    originTargets: origin.requests.map((r) => r.target),
    originViolations: [...origin.violations],
    originCutOff: origin.cutOff.length,
  };
}

/** Every way the observation departs from `expected`; empty when the cell passes. */
function judge(
  cell: Cell,
  prefix: string,
  expected: MatrixExpected,
  obs: Observation,
  boundMs: number,
): string[] {
  const failures: string[] = [];
  const exchanges = obs.exchanges;
  const cut = expected.closesPipelinedConnection === true && cell.peer === 'pipeline';
  const answered = exchanges.filter((e) => e.error === undefined);
  if (cut) {
    const last = exchanges[exchanges.length - 1];
    if (answered.length >= REQUESTS_PER_CELL) failures.push('expected the pipelined connection to be closed');
    else if (last?.error?.startsWith('connection closed') !== true) {
      failures.push(`r${exchanges.length - 1}: expected a close, got ${last?.error ?? 'nothing'}`);
    }
  } else {
    for (let i = 0; i < exchanges.length; i++) {
      const e = exchanges[i]!;
      if (e.error !== undefined) failures.push(`r${i}: ${e.error}`);
    }
    if (exchanges.length < REQUESTS_PER_CELL && failures.length === 0) {
      failures.push(`only ${exchanges.length} of ${REQUESTS_PER_CELL} requests were sent`);
    }
  }
  exchanges.forEach((e, i) => {
    if (e.error !== undefined) return;
    const where = `r${i}`;
    if (e.ms > boundMs) failures.push(`${where}: took ${e.ms} ms (bound ${boundMs} ms)`);
    if (e.status !== expected.status)
      failures.push(`${where}: status ${e.status}, expected ${expected.status}`);
    const body = expected.body(i);
    if (e.bodySha256 !== sha256(body)) {
      failures.push(`${where}: body of ${e.bodyLength} B differs from the expected ${body.length} B`);
    }
    if (e.informational.join() !== expected.informational.join()) {
      failures.push(`${where}: 1xx [${e.informational}], expected [${expected.informational}]`);
    }
    const trailers = expected.trailers(i);
    if (JSON.stringify(e.trailers) !== JSON.stringify(trailers)) {
      failures.push(`${where}: trailers ${JSON.stringify(e.trailers)}, expected ${JSON.stringify(trailers)}`);
    }
    failures.push(...framingProblems(where, e, cell, expected));
  });
  for (const v of obs.originViolations) failures.push(`origin: ${v}`);
  if (cut) return failures;
  const n = exchanges.length;
  const wantDown = expected.downstreamReused ? 1 : n;
  if (obs.downstreamConnections !== wantDown) {
    failures.push(
      `${obs.downstreamConnections} downstream connections for ${n} requests, expected ${wantDown}`,
    );
  }
  const [minUp, maxUp] =
    expected.upstreamReused === 'either' ? [1, n] : expected.upstreamReused ? [1, 1] : [n, n];
  if (obs.upstreamConnections < minUp || obs.upstreamConnections > maxUp) {
    const want = minUp === maxUp ? `${minUp}` : `${minUp} to ${maxUp}`;
    failures.push(`${obs.upstreamConnections} upstream connections for ${n} requests, expected ${want}`);
  }
  const targets = exchanges.map((_, i) => `${prefix}/r${i}`);
  if (obs.originTargets.join() !== targets.join()) {
    failures.push(`origin received [${obs.originTargets.join(' ')}], expected [${targets.join(' ')}]`);
  }
  if (expected.originReadsBody && obs.originCutOff > 0) {
    failures.push(`origin: ${obs.originCutOff} request bodies cut off`);
  }
  return failures;
}

/** Framing headers that contradict the body or the connection's expected reuse. */
function framingProblems(where: string, e: ExchangeSummary, cell: Cell, expected: MatrixExpected): string[] {
  const problems: string[] = [];
  if (e.framing === 'close' && expected.downstreamReused) {
    problems.push(`${where}: close-delimited body on a keep-alive connection`);
  }
  if (e.contentLength !== undefined && e.framing === 'length' && Number(e.contentLength) !== e.bodyLength) {
    problems.push(`${where}: content-length ${e.contentLength} for ${e.bodyLength} B`);
  }
  if (expected.headContentLength !== undefined && e.contentLength !== String(expected.headContentLength)) {
    problems.push(`${where}: HEAD content-length ${e.contentLength}, expected ${expected.headContentLength}`);
  }
  const closes = /(^|,)\s*close\s*(,|$)/i.test(e.connectionHeader ?? '');
  if (
    closes &&
    expected.downstreamReused &&
    !(cell.peer === 'pipeline' && expected.closesPipelinedConnection)
  ) {
    problems.push(`${where}: connection: close on a connection that should stay open`);
  }
  return problems;
}

/**
 * A compact table of failing cells: one line per cell, its first failure and how many more
 * (every failure with LEGATE_MATRIX_VERBOSE=1).
 */
export function failureTable(targetName: string, outcomes: CellOutcome[]): string {
  const failing = outcomes.filter((o) => o.failures.length > 0);
  if (failing.length === 0) return '';
  const verbose = process.env.LEGATE_MATRIX_VERBOSE === '1';
  const rows = failing.map((o) => [
    targetName,
    o.cell.shape.name,
    o.cell.peer,
    verbose
      ? o.failures.join('; ')
      : o.failures[0]! + (o.failures.length > 1 ? ` (+${o.failures.length - 1} more)` : ''),
  ]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((v, c) => (c < 3 ? v.padEnd(widths[c]!) : v)).join(' | '));
  return `${failing.length} of ${outcomes.length} cells fail:\n${lines.join('\n')}`;
}

/** The intended differences a run used: each reason once, with the cells it covers. */
export function differenceList(outcomes: CellOutcome[]): string[] {
  const cells = new Map<string, string[]>();
  for (const o of outcomes) {
    for (const reason of o.difference?.reasons ?? []) {
      if (!cells.has(reason)) cells.set(reason, []);
      cells.get(reason)!.push(`${o.cell.shape.name} × ${o.cell.peer}`);
    }
  }
  return [...cells].map(([reason, covered]) =>
    covered.length <= 3 ? `${reason}: ${covered.join(', ')}` : `${reason}: ${covered.length} cells`,
  );
}
