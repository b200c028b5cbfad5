/**
 * The native HTTP/1 parser (native-bindings/src/engine/h1_parser.c on Node's llhttp, driven by a
 * C loop: no N-API call per parse) against Legate's llhttp wasm wrapper, on llhttp-parse.ts's three
 * messages. Both deliver lower-case names, trimmed values, the request-target / status and body
 * views; the native side also runs the request checks (version, framing, header count).
 *
 * Measured as CPU time, not wall time (the C loop reads its thread's CPU clock, the JS loop
 * process.cpuUsage()), so other load on the machine does not inflate it: ROUNDS rounds of
 * PARSES parses each, the best and the median round per parse.
 */
import { ParserType } from '../src/http/llhttp';
import { DEFAULT_ADDON_PATH, probeNative } from '../src/native/bindings';
import {
  REQUEST,
  REQUEST_20_HEADERS,
  RESPONSE,
  legateHandler,
  legateParse,
  legateParser,
} from './lib/http-parse';

const ROUNDS = 9;
const PARSES = 20_000;

const native = probeNative(DEFAULT_ADDON_PATH, {}).bindings;
const status = native?.h1Status?.();
if (!native?.h1BenchForTest || !status?.available) {
  console.log(`native HTTP/1 parser unavailable: ${status?.reason ?? 'addon not built'}; nothing to compare`);
  process.exit(0);
}
const nativeBench = native.h1BenchForTest.bind(native);

/** Nanoseconds of CPU per parse in each round, sorted. */
function rounds(measure: () => number): number[] {
  measure(); // warm-up (JIT, caches)
  return Array.from({ length: ROUNDS }, measure).sort((a, b) => a - b);
}

function wasmRound(parser: ReturnType<typeof legateParser>, data: Buffer): number {
  const start = process.cpuUsage();
  for (let i = 0; i < PARSES; i++) legateParse(parser, data);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / PARSES;
}

const cases = [
  ['request (6 headers)', 'request', REQUEST, ParserType.REQUEST],
  ['response (13 B body)', 'response', RESPONSE, ParserType.RESPONSE],
  ['request (20 headers)', 'request', REQUEST_20_HEADERS, ParserType.REQUEST],
] as const;

const ns = (n: number): string => `${n.toFixed(0)} ns`.padStart(8);
console.log(`CPU time per parse, best / median of ${ROUNDS} rounds of ${PARSES}`);
console.log('  message                 wasm wrapper         native C          wasm / native (best)');
for (const [name, type, data, parserType] of cases) {
  const parser = legateParser(parserType);
  const wasm = rounds(() => wasmRound(parser, data));
  const c = rounds(() => nativeBench(type, data, PARSES) / PARSES);
  const median = (r: number[]): number => r[r.length >> 1]!;
  console.log(
    `  ${name.padEnd(22)} ${ns(wasm[0]!)} / ${ns(median(wasm))}  ${ns(c[0]!)} / ${ns(median(c))}  ` +
      `${(wasm[0]! / c[0]!).toFixed(1).padStart(8)}x`,
  );
}
if (legateHandler.messages === 0) throw new Error('the wasm wrapper parsed nothing');
