/**
 * The HTTP/1 differential fuzzer: the native parser (Node's llhttp + h1_parser.c, through the
 * addon's h1ParseForTest) against Legate's JS codec (llhttp-wasm + llhttp.ts + server/client
 * connection, through ./js-reference.ts), and Node's llhttp against llhttp-wasm callback by
 * callback (llhttpRawForTest vs ./wasm-raw.ts).
 *
 * For every input (generated, from the suite's corpus, or mutated) and every way of splitting it
 * into reads, the two codecs must report identical events; each codec must also report the same
 * events whatever the split (split-invariance), and the two llhttp builds the same callbacks,
 * errors and positions. Iteration i uses its own PRNG seeded from (seed, i), so any finding is
 * reproduced by its seed and iteration alone.
 */
import { isUpgradeRequest } from '../../../src/http/codec';
import { HeaderMap } from '../../../src/http/header-map';
import type { NativeBindings } from '../../../src/native/bindings';
import { nativeRequestOptions, type H1Events, type RequestOptions, type ResponseOptions } from './events';
import {
  REQUEST_CORPUS,
  RESPONSE_CORPUS,
  Rng,
  cutInput,
  generateRequests,
  generateResponses,
  mutate,
  splitPlans,
  type ResponseInput,
} from './generate';
import { jsRequestEvents, jsResponseEvents } from './js-reference';
import { wasmRawEvents } from './wasm-raw';

export type H1Native = Required<Pick<NativeBindings, 'h1ParseForTest' | 'llhttpRawForTest'>>;

export interface H1Case {
  type: 'request' | 'response';
  input: Buffer;
  requestOptions: RequestOptions;
  responseOptions: ResponseOptions;
}

export interface H1Finding {
  /** codec: native vs JS codec; raw: Node's llhttp vs llhttp-wasm; split: one codec vs itself. */
  kind: 'codec' | 'raw' | 'split';
  iteration: number;
  testCase: H1Case;
  cuts: number[];
  /** For kind 'split': the events of the whole input; else the JS (wasm) side's. */
  expected: H1Events;
  actual: H1Events;
}

export interface H1FuzzReport {
  seed: number;
  inputs: number;
  /** Parses compared (each side of each split counts once). */
  parses: number;
  findings: H1Finding[];
}

const RESPONSE_HEAD_BYTES = 80 * 1024;

export function jsEvents(c: H1Case, reads: Buffer[]): H1Events {
  return c.type === 'request'
    ? jsRequestEvents(reads, c.requestOptions)
    : jsResponseEvents(reads, c.responseOptions);
}

export function nativeEvents(native: H1Native, c: H1Case, reads: Buffer[]): H1Events {
  const options =
    c.type === 'request'
      ? nativeRequestOptions(c.requestOptions)
      : { maxHeadBytes: RESPONSE_HEAD_BYTES, ...c.responseOptions };
  const events = native.h1ParseForTest(c.type, reads, options) as H1Events;
  if (c.type !== 'request') return events;
  return events.map((e) => (e[0] === 'head' ? [...e.slice(0, 7), engineUpgradeFlag(e), ...e.slice(8)] : e));
}

/**
 * The native parser reports llhttp's upgrade flag; the engine reads it as the JS codec does
 * (`isUpgradeRequest` in exchange.ts: `Upgrade: h2c` is no upgrade).
 */
function engineUpgradeFlag(head: H1Events[number]): boolean {
  const names = head[8] as string[];
  const values = head[9] as string[];
  const headers = new HeaderMap();
  for (let i = 0; i < names.length; i++) headers.add(names[i]!, values[i]!);
  return isUpgradeRequest(head[7] as boolean, headers);
}

function same(a: H1Events, b: H1Events): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The events of one input with what legitimately depends on how it was split into reads erased,
 * and nothing else. A streaming codec (the JS one, the native one, Envoy's) decides as bytes
 * arrive, so three things follow the reads:
 *   1. Which error ends a message that breaks both a limit (head size, header count, body size)
 *      and the grammar: llhttp reports a span piece at the end of each read before it has seen
 *      the bytes that make the span invalid, so a split input may hit the limit first (431 / 413)
 *      where the whole input fails on the grammar (400), or the reverse.
 *   2. How much of the body of a message that then fails was delivered before the failure.
 *   3. Whether a complete response is reusable: bytes after it are only seen if they arrived in
 *      the same read.
 * So a message that ends in a local reply or reset keeps its head but loses its body pieces and
 * the error's detail (here), and response runs that disagree about reuse are compared up to their
 * first `complete`, without its flag (sameModuloSplit). Native and JS are still compared exactly, split by split.
 */
export function splitComparable(events: H1Events): H1Events {
  const out: H1Events = [];
  let messageStart = 0;
  for (const event of events) {
    const tag = event[0];
    if (tag === 'begin' || tag === 'request') messageStart = out.length;
    if (tag === 'reply' || tag === 'reset') {
      const kept = out.splice(messageStart).filter((e) => e[0] !== 'body' && e[0] !== 'rejected');
      out.push(...kept, ['rejected']);
      continue;
    }
    out.push(event);
  }
  return out;
}

/** Response runs that disagree about reuse are compared up to the first completion only. */
function sameModuloSplit(type: 'request' | 'response', whole: H1Events, split: H1Events): boolean {
  let a = splitComparable(whole);
  let b = splitComparable(split);
  if (type === 'response') {
    const reuse = (events: H1Events): unknown => events.find((e) => e[0] === 'complete')?.[1];
    if (reuse(whole) !== reuse(split)) {
      const cut = (events: H1Events): H1Events => [
        ...events.slice(
          0,
          events.findIndex((e) => e[0] === 'complete'),
        ),
        ['complete'],
      ];
      a = cut(a);
      b = cut(b);
    }
  }
  return same(a, b);
}

function randomRequestOptions(rng: Rng): RequestOptions {
  return {
    maxRequestHeadersKb: rng.pick([60, 60, 60, 1, 2, 96]),
    maxRequestHeadersCount: rng.pick([100, 100, 100, 5, 1]),
    headersWithUnderscoresAction: rng.pick(['ALLOW', 'ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'] as const),
    acceptHttp10: rng.chance(0.5),
    maxRequestBodyBytes: rng.pick([0, 0, 0, 10, 100, 2000]),
  };
}

/** Draws iteration `i`'s case: a request or response, generated, from the corpus, or mutated. */
export function drawCase(rng: Rng): H1Case {
  const request = rng.chance(0.55);
  const source = rng.int(100);
  const fromCorpus = (source >= 40 && source < 50) || source >= 85;
  const mutated = source >= 50;
  let input: Buffer;
  let methods = ['GET'];
  if (request) {
    input = fromCorpus ? Buffer.from(rng.pick(REQUEST_CORPUS), 'latin1') : generateRequests(rng);
  } else {
    const base: ResponseInput = fromCorpus ? rng.pick(RESPONSE_CORPUS) : generateResponses(rng);
    input = base.input;
    methods = base.methods;
    // A mutation may add or remove a response: sometimes the client expects one more.
    if (mutated && rng.chance(0.3)) methods = [...methods, rng.pick(['GET', 'HEAD'])];
  }
  return {
    type: request ? 'request' : 'response',
    input: mutated ? mutate(rng, input) : input,
    requestOptions: randomRequestOptions(rng),
    responseOptions: { methods, eof: rng.chance(0.6) },
  };
}

/** Seeds iteration `i` from the run's seed (splitmix-style), so it can be replayed alone. */
export function iterationSeed(seed: number, i: number): number {
  let z = (seed ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Compares the two codecs (and each with itself) over every plan; returns the findings. */
export function checkCase(
  native: H1Native,
  c: H1Case,
  plans: number[][],
  iteration: number,
  counter: { parses: number },
): H1Finding[] {
  const findings: H1Finding[] = [];
  let whole: H1Events | null = null;
  for (const cuts of plans) {
    const js = jsEvents(c, cutInput(c.input, cuts));
    const nat = nativeEvents(native, c, cutInput(c.input, cuts));
    counter.parses += 2;
    if (!same(js, nat))
      findings.push({ kind: 'codec', iteration, testCase: c, cuts, expected: js, actual: nat });
    if (whole === null) whole = js;
    else if (!sameModuloSplit(c.type, whole, js))
      findings.push({ kind: 'split', iteration, testCase: c, cuts, expected: whole, actual: js });
  }
  for (const cuts of plans.slice(0, 2)) {
    const type = c.type === 'request' ? 1 : 2;
    const wasm = wasmRawEvents(type, cutInput(c.input, cuts));
    const node = native.llhttpRawForTest(c.type, cutInput(c.input, cuts)) as H1Events;
    counter.parses += 2;
    if (!same(wasm, node))
      findings.push({ kind: 'raw', iteration, testCase: c, cuts, expected: wasm, actual: node });
  }
  return findings;
}

/** Shrinks a finding's input while the same kind of difference persists (bounded, greedy). */
export function minimise(native: H1Native, finding: H1Finding, budget = 1500): H1Finding {
  const byteWise = finding.cuts.length > 0 && finding.cuts.length === finding.testCase.input.length - 1;
  const plansFor = (length: number): number[][] => {
    const cuts = byteWise
      ? Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)
      : finding.cuts.filter((x) => x < length);
    return finding.kind === 'split' ? [[], cuts] : [cuts];
  };
  const reproduces = (input: Buffer): H1Finding | null => {
    const c = { ...finding.testCase, input };
    const found = checkCase(native, c, plansFor(input.length), finding.iteration, { parses: 0 });
    return found.find((f) => f.kind === finding.kind) ?? null;
  };
  let best = finding;
  for (let chunk = Math.max(1, best.testCase.input.length >> 1); chunk >= 1 && budget > 0; chunk >>= 1) {
    for (let at = 0; at + chunk <= best.testCase.input.length && budget > 0;) {
      budget--;
      const input = best.testCase.input;
      const smaller = Buffer.concat([input.subarray(0, at), input.subarray(at + chunk)]);
      const found = reproduces(smaller);
      if (found !== null) best = found;
      else at += chunk;
    }
  }
  return best;
}

export function describeFinding(seed: number, f: H1Finding): string {
  const c = f.testCase;
  const options = c.type === 'request' ? c.requestOptions : c.responseOptions;
  const sides =
    f.kind === 'codec'
      ? ['JS codec', 'native']
      : f.kind === 'raw'
        ? ['llhttp-wasm', "Node's llhttp"]
        : ['whole input', 'split input'];
  return [
    `${f.kind} difference (${c.type}); reproduce with LEGATE_FUZZ_SEED=${seed}, iteration ${f.iteration}`,
    `options: ${JSON.stringify(options)}`,
    `cuts: ${f.cuts.length > 40 ? `every byte (${f.cuts.length})` : JSON.stringify(f.cuts)}`,
    `input (hex): ${c.input.toString('hex')}`,
    `input (latin1): ${JSON.stringify(c.input.toString('latin1'))}`,
    `${sides[0]}: ${JSON.stringify(f.expected)}`,
    `${sides[1]}: ${JSON.stringify(f.actual)}`,
  ].join('\n');
}

export interface H1FuzzOptions {
  seed: number;
  iterations: number;
  /** Called every `progressEvery` inputs. */
  onProgress?: (report: H1FuzzReport) => void;
  progressEvery?: number;
  /** Stop after this many findings (default 1). */
  maxFindings?: number;
}

/** Runs the fuzzer; findings come back minimised. */
export function runH1Fuzz(native: H1Native, options: H1FuzzOptions): H1FuzzReport {
  const report: H1FuzzReport = { seed: options.seed, inputs: 0, parses: 0, findings: [] };
  const maxFindings = options.maxFindings ?? 1;
  const progressEvery = options.progressEvery ?? 10000;
  for (let i = 0; i < options.iterations && report.findings.length < maxFindings; i++) {
    const rng = new Rng(iterationSeed(options.seed, i));
    const c = drawCase(rng);
    const byteAtATime = c.input.length <= 2048 && rng.chance(0.1);
    const found = checkCase(native, c, splitPlans(rng, c.input.length, byteAtATime), i, report);
    report.inputs++;
    for (const f of found.slice(0, maxFindings - report.findings.length))
      report.findings.push(minimise(native, f));
    if (options.onProgress && (i + 1) % progressEvery === 0) options.onProgress(report);
  }
  return report;
}

/** Replays iteration `iteration` of `seed` (what a finding's message says). */
export function replayIteration(native: H1Native, seed: number, iteration: number): H1Finding[] {
  const rng = new Rng(iterationSeed(seed, iteration));
  const c = drawCase(rng);
  const byteAtATime = c.input.length <= 2048 && rng.chance(0.1);
  return checkCase(native, c, splitPlans(rng, c.input.length, byteAtATime), iteration, { parses: 0 });
}
