/**
 * Parser microbenchmark: Legate's llhttp wasm wrapper vs Node's built-in parser (`_http_common`'s
 * HTTPParser, native llhttp) vs undici 7's llhttp wasm driven the way undici's `client-h1.js` drives
 * it (a Buffer view per callback, headers as buffers turned into strings at headers-complete).
 * Every contender produces the same thing: lower-case header names, values, URL/status, body views.
 *
 * Run: node .build/codec/perf/llhttp-parse.js
 */
import { bench, do_not_optimize, run, summary } from 'mitata';
import { ParserType } from '../src/http/llhttp';
import {
  REQUEST,
  REQUEST_20_HEADERS,
  RESPONSE,
  legateHandler,
  legateParse,
  legateParser,
} from './lib/http-parse';

const legateRequest = legateParser(ParserType.REQUEST);
const legateResponse = legateParser(ParserType.RESPONSE);

// ---------------------------------------------------------------- Node's built-in parser

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  [callback: number]: unknown;
}
interface NodeHttpParserClass {
  new (): NodeHttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HTTPParser } = require('_http_common') as { HTTPParser: NodeHttpParserClass };

let nodeHeaders = 0;
function nodeParser(type: number): NodeHttpParser {
  const parser = new HTTPParser();
  parser.initialize(type, {}, 0, 0);
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: string[]): number => {
    for (let i = 0; i < headers.length; i += 2) {
      do_not_optimize(headers[i]!.toLowerCase());
      nodeHeaders++;
    }
    return 0;
  };
  parser[HTTPParser.kOnBody] = (data: Buffer): void => do_not_optimize(data);
  parser[HTTPParser.kOnMessageComplete] = (): void => {};
  parser[HTTPParser.kOnExecute] = (): void => {};
  return parser;
}
const nodeRequest = nodeParser(HTTPParser.REQUEST);
const nodeResponse = nodeParser(HTTPParser.RESPONSE);

function nodeParse(parser: NodeHttpParser, data: Buffer): void {
  const ret = parser.execute(data);
  if (ret instanceof Error) throw ret;
}

// ---------------------------------------------------------------- undici's wasm, undici-style

interface UndiciExports {
  memory: { buffer: ArrayBuffer };
  _initialize?: () => void;
  malloc(size: number): number;
  llhttp_alloc(type: number): number;
  llhttp_execute(ptr: number, data: number, len: number): number;
}

/** Mirrors undici's Parser: Buffer views per span, raw header buffers, strings at headers-complete. */
class UndiciStyleParser {
  headers: Buffer[] = [];
  bodyBytes = 0;
  constructor(readonly ptr: number) {}
  onHeaderField(buf: Buffer): number {
    this.headers.push(buf);
    return 0;
  }
  onHeaderValue(buf: Buffer): number {
    this.headers.push(buf);
    return 0;
  }
  onHeadersComplete(): number {
    const raw = this.headers;
    for (let i = 0; i < raw.length; i += 2) {
      do_not_optimize(raw[i]!.toString('latin1').toLowerCase());
      do_not_optimize(raw[i + 1]!.toString('latin1'));
    }
    this.headers = [];
    return 0;
  }
  onBody(buf: Buffer): number {
    this.bodyBytes += buf.length;
    return 0;
  }
}

let undiciCurrent: UndiciStyleParser | null = null;
let undiciChunk: Buffer = Buffer.alloc(0);
let undiciBufferPtr = 0;
const undiciView = (at: number, len: number): Buffer =>
  Buffer.from(undiciChunk.buffer, undiciChunk.byteOffset + at - undiciBufferPtr, len);
const undiciInstance = new (
  globalThis as unknown as {
    WebAssembly: {
      Instance: new (m: object, i: object) => { exports: UndiciExports };
      Module: new (b: Buffer) => object;
    };
  }
).WebAssembly.Instance(
  new (globalThis as unknown as { WebAssembly: { Module: new (b: Buffer) => object } }).WebAssembly.Module(
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('undici/lib/llhttp/llhttp-wasm.js') as Buffer,
  ),
  {
    env: {
      wasm_on_url: () => 0,
      wasm_on_status: (_p: number, at: number, len: number) => (
        do_not_optimize(undiciView(at, len).toString()),
        0
      ),
      wasm_on_message_begin: () => 0,
      wasm_on_header_field: (_p: number, at: number, len: number) =>
        undiciCurrent!.onHeaderField(undiciView(at, len)),
      wasm_on_header_value: (_p: number, at: number, len: number) =>
        undiciCurrent!.onHeaderValue(undiciView(at, len)),
      wasm_on_headers_complete: () => undiciCurrent!.onHeadersComplete(),
      wasm_on_body: (_p: number, at: number, len: number) => undiciCurrent!.onBody(undiciView(at, len)),
      wasm_on_message_complete: () => 0,
    },
  },
);
const undici = undiciInstance.exports;
undici._initialize?.();
undiciBufferPtr = undici.malloc(64 * 1024);
const undiciRequest = new UndiciStyleParser(undici.llhttp_alloc(ParserType.REQUEST));
const undiciResponse = new UndiciStyleParser(undici.llhttp_alloc(ParserType.RESPONSE));

function undiciParse(parser: UndiciStyleParser, data: Buffer): void {
  new Uint8Array(undici.memory.buffer, undiciBufferPtr, data.length).set(data);
  undiciCurrent = parser;
  undiciChunk = data;
  const ret = undici.llhttp_execute(parser.ptr, undiciBufferPtr, data.length);
  undiciCurrent = null;
  if (ret !== 0) throw new Error(`undici llhttp error ${ret}`);
}

// ---------------------------------------------------------------- benchmarks

for (const [name, data, legate, node, und] of [
  ['request (6 headers)', REQUEST, legateRequest, nodeRequest, undiciRequest],
  ['response (13 B body)', RESPONSE, legateResponse, nodeResponse, undiciResponse],
  ['request (20 headers)', REQUEST_20_HEADERS, legateRequest, nodeRequest, undiciRequest],
] as const) {
  summary(() => {
    bench(`legate llhttp wasm: ${name}`, () => legateParse(legate, data));
    bench(`node built-in parser: ${name}`, () => nodeParse(node, data));
    bench(`undici llhttp wasm (undici-style): ${name}`, () => undiciParse(und, data));
  });
}

void run().then(() => {
  // Keeps the handlers' work observable so nothing above is optimised away.
  do_not_optimize([legateHandler.headers, nodeHeaders, undiciRequest.bodyBytes + undiciResponse.bodyBytes]);
});
