/**
 * Mutations of HTTP/1 messages for the parser fuzzers: byte-level (flip, insert, delete,
 * duplicate) and message-aware (duplicate a header line, add Content-Length / Transfer-Encoding
 * lines, change a length, break line ends), plus split points for delivering the bytes in pieces.
 */
import type { Random } from './random';

/** Bytes that change how HTTP/1 parses: line ends, separators, whitespace, NUL, DEL, obs-text. */
const INTERESTING_BYTES = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x30, 0x61, 0x00, 0x7f, 0x80, 0xff];

/** Header lines that change framing, in smuggling-shaped spellings. */
const FRAMING_LINES = [
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: chunked, identity\r\n',
  'Transfer-Encoding: identity\r\n',
  'Transfer-Encoding: xchunked\r\n',
  'Transfer-Encoding : chunked\r\n',
  'Transfer-Encoding:\tchunked\r\n',
  'Transfer-Encoding: chunked\r\n Transfer-Encoding: chunked\r\n',
  'Content-Length: 0\r\n',
  'Content-Length: 5\r\n',
  'Content-Length: 05\r\n',
  'Content-Length: 5, 5\r\n',
  'Content-Length: -1\r\n',
  'Content-Length: 99999999999999999999\r\n',
  'Content-Length:5\r\n',
  'Connection: close\r\n',
  'Expect: 100-continue\r\n',
  'Upgrade: websocket\r\nConnection: upgrade\r\n',
];

/** Fragments inserted anywhere. */
const FRAGMENTS = [
  '\r\n',
  '\n',
  '\r',
  ' ',
  '\t',
  '0\r\n\r\n',
  '5\r\nhello\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  ';ext=1',
  'HTTP/1.1 200 OK\r\n',
];

type Mutation = (input: Buffer, rng: Random) => Buffer;

const flipByte: Mutation = (input, rng) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  out[rng.int(out.length)] = rng.chance(0.7) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
  return out;
};

const insertBytes: Mutation = (input, rng) => {
  const at = rng.int(input.length + 1);
  const what = rng.chance(0.5)
    ? Buffer.from([rng.pick(INTERESTING_BYTES)])
    : Buffer.from(rng.pick(FRAGMENTS), 'latin1');
  return Buffer.concat([input.subarray(0, at), what, input.subarray(at)]);
};

const deleteRange: Mutation = (input, rng) => {
  if (input.length === 0) return input;
  const at = rng.int(input.length);
  return Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + rng.int(8))]);
};

const duplicateRange: Mutation = (input, rng) => {
  if (input.length === 0) return input;
  const at = rng.int(input.length);
  const range = input.subarray(at, at + 1 + rng.int(16));
  return Buffer.concat([input.subarray(0, at), range, input.subarray(at)]);
};

/** Offsets just after each CRLF/LF (line starts), where a header line can go. */
function lineStarts(input: Buffer): number[] {
  const starts: number[] = [];
  for (let i = 0; i < input.length; i++) if (input[i] === 0x0a) starts.push(i + 1);
  return starts;
}

const duplicateHeaderLine: Mutation = (input, rng) => {
  const starts = lineStarts(input);
  if (starts.length < 2) return input;
  const i = rng.int(starts.length - 1);
  const line = input.subarray(starts[i]!, starts[i + 1]!);
  const at = rng.pick(starts);
  return Buffer.concat([input.subarray(0, at), line, input.subarray(at)]);
};

const insertFramingLine: Mutation = (input, rng) => {
  const starts = lineStarts(input);
  const at = starts.length > 0 ? rng.pick(starts) : 0;
  return Buffer.concat([
    input.subarray(0, at),
    Buffer.from(rng.pick(FRAMING_LINES), 'latin1'),
    input.subarray(at),
  ]);
};

const changeLength: Mutation = (input, rng) => {
  const text = input.toString('latin1');
  const lengths = [...text.matchAll(/content-length:[ \t]*(\d+)/gi)];
  if (lengths.length === 0) return input;
  const m = rng.pick(lengths);
  const n = Number(m[1]);
  // Around the edges of 32-bit, 53-bit (exact JS numbers) and 64-bit lengths too.
  const replacement = rng.pick([
    '0',
    String(n - 1),
    String(n + 1),
    String(n * 2),
    '2147483648',
    '9007199254740991',
    '9007199254740993',
    '18446744073709551615',
    '18446744073709551616',
  ]);
  const at = m.index! + m[0].length - m[1]!.length;
  return Buffer.from(text.slice(0, at) + replacement + text.slice(at + m[1]!.length), 'latin1');
};

const bareLineEnd: Mutation = (input, rng) => {
  const text = input.toString('latin1');
  const ends = [...text.matchAll(/\r\n/g)];
  if (ends.length === 0) return input;
  const m = rng.pick(ends);
  const replacement = rng.pick(['\n', '\r', '\r\r\n', '\n\r']);
  return Buffer.from(text.slice(0, m.index) + replacement + text.slice(m.index! + 2), 'latin1');
};

const truncate: Mutation = (input, rng) => input.subarray(0, rng.int(input.length + 1));

const MUTATIONS: Mutation[] = [
  flipByte,
  flipByte,
  insertBytes,
  deleteRange,
  duplicateRange,
  duplicateHeaderLine,
  insertFramingLine,
  insertFramingLine,
  changeLength,
  bareLineEnd,
  truncate,
];

/** `input` with 0 to 3 random mutations (0 keeps some valid inputs in every run). */
export function mutate(input: Buffer, rng: Random): Buffer {
  let out = input;
  const count = rng.pick([0, 1, 1, 2, 3]);
  for (let i = 0; i < count; i++) out = rng.pick(MUTATIONS)(out, rng);
  return out;
}

/** `input` cut at 1 to 4 random points, or into single bytes now and then. */
export function splitAtRandom(input: Buffer, rng: Random): Buffer[] {
  if (input.length <= 1) return [input];
  if (rng.chance(0.05)) return Array.from(input, (_, i) => input.subarray(i, i + 1));
  const points = new Set<number>();
  const count = 1 + rng.int(4);
  for (let i = 0; i < count; i++) points.add(1 + rng.int(input.length - 1));
  const sorted = [...points].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of sorted) {
    pieces.push(input.subarray(from, p));
    from = p;
  }
  pieces.push(input.subarray(from));
  return pieces;
}
