/**
 * llhttp-wasm (the llhttp the JS codec runs) driven directly, with recording callbacks and no
 * Legate logic: the wasm half of the llhttp-level differential, matched by the addon's
 * llhttpRawForTest on Node's own llhttp. Both report spans as [offset in the whole input, length],
 * each execute's error code, position and reason, and finish()'s result; what follows a
 * PAUSED_UPGRADE is parsed as HTTP again (resume_after_upgrade), as the codec does for a refused
 * upgrade.
 */
import { readEmbeddedWasm, type LlhttpExports } from '../../../src/http/llhttp';
import type { H1Events } from './events';

interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

const PAUSED_UPGRADE = 22;

/** The run whose execute is in progress (wasm calls back synchronously). */
let events: H1Events = [];
/** Global offset of the byte at the wasm address `inputPtr`. */
let inputBase = 0;
let inputPtr = 0;
let inputSize = 0;
let api: LlhttpExports | null = null;

function span(tag: string, at: number, len: number): number {
  events.push([tag, inputBase + at - inputPtr, len]);
  return 0;
}

const imports = {
  env: {
    wasm_on_message_begin: (): number => (events.push(['begin']), 0),
    wasm_on_url: (_p: number, at: number, len: number): number => span('url', at, len),
    wasm_on_status: (_p: number, at: number, len: number): number => span('status', at, len),
    wasm_on_header_field: (_p: number, at: number, len: number): number => span('field', at, len),
    wasm_on_header_value: (_p: number, at: number, len: number): number => span('value', at, len),
    wasm_on_headers_complete(p: number, status: number, upgrade: number, keepAlive: number): number {
      const w = api!;
      events.push([
        'headers',
        status,
        upgrade,
        keepAlive,
        w.llhttp_get_method(p),
        w.llhttp_get_http_major(p),
        w.llhttp_get_http_minor(p),
      ]);
      return 0;
    },
    wasm_on_body: (_p: number, at: number, len: number): number => span('body', at, len),
    wasm_on_message_complete: (): number => (events.push(['complete']), 0),
  },
};

/** A second instance of the wasm module the JS codec uses (its own memory and callbacks). */
function wasm(): LlhttpExports {
  if (api !== null) return api;
  const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  const module = new WebAssembly.Module(readEmbeddedWasm());
  api = new WebAssembly.Instance(module, imports).exports as LlhttpExports;
  api._initialize();
  return api;
}

function cString(w: LlhttpExports, ptr: number): string {
  if (ptr === 0) return '';
  const bytes = new Uint8Array(w.memory.buffer);
  return Buffer.from(w.memory.buffer, ptr, bytes.indexOf(0, ptr) - ptr).toString('latin1');
}

/** Parses `chunks` as successive reads with llhttp-wasm (type 1 = request, 2 = response). */
export function wasmRawEvents(type: 1 | 2, chunks: readonly Buffer[]): H1Events {
  const w = wasm();
  events = [];
  const parser = w.llhttp_alloc(type);
  let base = 0;
  let stopped = false;
  try {
    for (const chunk of chunks) {
      if (stopped) break;
      if (chunk.length > inputSize) {
        if (inputPtr !== 0) w.free(inputPtr);
        inputSize = Math.ceil(chunk.length / 4096) * 4096;
        inputPtr = w.malloc(inputSize);
      }
      new Uint8Array(w.memory.buffer, inputPtr, chunk.length).set(chunk);
      let start = 0;
      for (;;) {
        inputBase = base;
        const ret = w.llhttp_execute(parser, inputPtr + start, chunk.length - start);
        if (ret === 0) break;
        const stop = w.llhttp_get_error_pos(parser) - inputPtr;
        events.push(['ret', ret, base + stop, cString(w, w.llhttp_get_error_reason(parser))]);
        if (ret !== PAUSED_UPGRADE) {
          stopped = true;
          break;
        }
        w.llhttp_resume_after_upgrade(parser);
        start = stop;
      }
      base += chunk.length;
    }
    if (!stopped) events.push(['finish', w.llhttp_finish(parser)]);
  } finally {
    w.llhttp_free(parser);
  }
  const result = events;
  events = [];
  return result;
}
