/**
 * The native HTTP/1 parser is exactly as strict as the JS codec: differential fuzzing
 * (./h1-fuzz/differential.ts) over the suite's conformance and smuggling corpus, split every way,
 * and over a bounded seeded random run. LEGATE_FUZZ_SEED / LEGATE_FUZZ_ITERATIONS choose the
 * random run (the seed is printed with any failure); `npm run fuzz:h1` runs millions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireH1 } from './fixtures/h1';
import {
  checkCase,
  describeFinding,
  minimise,
  runH1Fuzz,
  splitComparable,
  type H1Case,
  type H1Finding,
  type H1Native,
} from './h1-fuzz/differential';
import type { H1Events, RequestOptions } from './h1-fuzz/events';
import { REQUEST_CORPUS, RESPONSE_CORPUS, Rng } from './h1-fuzz/generate';

/** Inputs for `npm test` (~6 s on the development machine); more with LEGATE_FUZZ_ITERATIONS. */
const DEFAULT_ITERATIONS = 8_000;

const REQUEST_OPTION_SETS: RequestOptions[] = [
  {
    maxRequestHeadersKb: 60,
    maxRequestHeadersCount: 100,
    headersWithUnderscoresAction: 'ALLOW',
    acceptHttp10: false,
    maxRequestBodyBytes: 0,
  },
  {
    maxRequestHeadersKb: 1,
    maxRequestHeadersCount: 3,
    headersWithUnderscoresAction: 'DROP_HEADER',
    acceptHttp10: true,
    maxRequestBodyBytes: 8,
  },
  {
    maxRequestHeadersKb: 2,
    maxRequestHeadersCount: 100,
    headersWithUnderscoresAction: 'REJECT_REQUEST',
    acceptHttp10: true,
    maxRequestBodyBytes: 0,
  },
];

/** Every single cut for short inputs (a sample of 16 for long ones), and byte by byte up to 4 KiB. */
function corpusPlans(length: number, rng: Rng): number[][] {
  const plans: number[][] = [[]];
  if (length <= 512) for (let cut = 1; cut < length; cut++) plans.push([cut]);
  else for (let i = 0; i < 16; i++) plans.push([rng.range(1, length - 1)]);
  if (length <= 4096) plans.push(Array.from({ length: length - 1 }, (_, i) => i + 1));
  return plans;
}

function assertNoFindings(native: H1Native, seed: number, findings: H1Finding[]): void {
  if (findings.length === 0) return;
  assert.fail(describeFinding(seed, minimise(native, findings[0]!)));
}

test('the suite corpus: native and JS codec agree for every split, and llhttp builds agree', (t) => {
  const native = requireH1(t);
  if (!native) return;
  const rng = new Rng(1);
  let parses = 0;
  const counter = { parses: 0 };
  for (const [i, input] of REQUEST_CORPUS.entries()) {
    for (const requestOptions of REQUEST_OPTION_SETS) {
      const c: H1Case = {
        type: 'request',
        input: Buffer.from(input, 'latin1'),
        requestOptions,
        responseOptions: { methods: ['GET'], eof: false },
      };
      assertNoFindings(native, 0, checkCase(native, c, corpusPlans(c.input.length, rng), i, counter));
    }
  }
  for (const [i, { input, methods }] of RESPONSE_CORPUS.entries()) {
    for (const eof of [false, true]) {
      const c: H1Case = {
        type: 'response',
        input,
        requestOptions: REQUEST_OPTION_SETS[0]!,
        responseOptions: { methods, eof },
      };
      assertNoFindings(native, 0, checkCase(native, c, corpusPlans(input.length, rng), i, counter));
    }
  }
  parses = counter.parses;
  t.diagnostic(`${parses} parses compared`);
});

test('random differential: generated, corpus and mutated inputs, split at random and byte by byte', (t) => {
  const native = requireH1(t);
  if (!native) return;
  const seed = Number(process.env.LEGATE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  const iterations = Number(process.env.LEGATE_FUZZ_ITERATIONS ?? DEFAULT_ITERATIONS);
  const started = Date.now();
  const report = runH1Fuzz(native, { seed, iterations });
  t.diagnostic(
    `seed ${seed}: ${report.inputs} inputs, ${report.parses} parses in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (report.findings.length > 0) assert.fail(describeFinding(seed, report.findings[0]!));
  assert.equal(report.inputs, iterations);
});

test('the differential catches a parser that differs, and split normalisation hides no head', (t) => {
  const native = requireH1(t);
  if (!native) return;
  // A "native" parser that loses the last header of every head.
  const lossy: H1Native = {
    llhttpRawForTest: native.llhttpRawForTest,
    h1ParseForTest: (type, chunks, options) =>
      native
        .h1ParseForTest(type, chunks, options)
        .map((event) =>
          event[0] === 'head' && type === 'request'
            ? [...event.slice(0, 8), (event[8] as string[]).slice(0, -1), (event[9] as string[]).slice(0, -1)]
            : event,
        ),
  };
  const c: H1Case = {
    type: 'request',
    input: Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n', 'latin1'),
    requestOptions: REQUEST_OPTION_SETS[0]!,
    responseOptions: { methods: ['GET'], eof: false },
  };
  const findings = checkCase(lossy, c, [[], [5]], 0, { parses: 0 });
  assert.deepEqual(
    findings.map((f) => f.kind),
    ['codec', 'codec'],
  );
  assert.match(describeFinding(42, findings[0]!), /LEGATE_FUZZ_SEED=42, iteration 0/);

  // Errors and streamed bodies may depend on the reads; accepted heads and trailers may not.
  const rejected: H1Events = [
    ['begin'],
    ['head', 'POST', '/'],
    ['body', 'ab'],
    ['reset', 'overflow'],
    ['reply', 413],
    ['close'],
  ];
  assert.deepEqual(splitComparable(rejected), [['begin'], ['head', 'POST', '/'], ['rejected'], ['close']]);
  const accepted: H1Events = [['begin'], ['head', 'GET', '/', ['a']], ['end']];
  assert.deepEqual(splitComparable(accepted), accepted);
});
