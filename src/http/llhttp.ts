/**
 * A thin, allocation-light wrapper over llhttp compiled to WebAssembly (the module embedded in the
 * `llhttp-wasm` package; its JS wrapper is not used because it copies every chunk twice and loses
 * headers split across two `execute()` calls).
 *
 * Model: undici's `lib/dispatcher/client-h1.js`. One `WebAssembly.Module` + `Instance` per thread,
 * one `llhttp_alloc`ed parser per connection. Each chunk is copied once into a shared input area in
 * wasm memory; llhttp's callbacks report offsets into that area, which map 1:1 onto the ORIGINAL
 * chunk, so bodies are `subarray()` views of it and strings are latin1 slices of it.
 *
 * Header fields and values that llhttp reports in pieces (a field split across two chunks) are
 * concatenated here, so the handler sees each complete header exactly once, with a lower-cased name
 * and a value without trailing whitespace. Callbacks go to a long-lived handler object.
 *
 * Strict mode: no lenient flags are set, so llhttp rejects obs-fold, bare LF, CL+TE, duplicate
 * Content-Length, invalid tokens and malformed chunk framing.
 */
import { readFileSync } from 'node:fs';
import { latin1Slice } from './latin1';

/** llhttp's `llhttp_type_t`. */
export const ParserType = { REQUEST: 1, RESPONSE: 2 } as const;
export type ParserType = (typeof ParserType)[keyof typeof ParserType];

/** The llhttp error codes Legate branches on (`llhttp_errno_t`), plus one of the wrapper's own. */
export const ParserError = {
  OK: 0,
  INVALID_VERSION: 9,
  INVALID_TRANSFER_ENCODING: 15,
  PAUSED: 21,
  PAUSED_UPGRADE: 22,
  /** A callback returned an error of its own (the handler knows why). */
  USER: 24,
  /** Wrapper-defined: the message head exceeded `maxHeadBytes`. Not an llhttp code. */
  HEAD_TOO_LARGE: 1000,
} as const;

/** Return values of `onHeadersComplete`, as llhttp defines them. */
export const HeadersCompleteResult = {
  CONTINUE: 0,
  /** The message has no body whatever its headers say (response to HEAD). */
  SKIP_BODY: 1,
  /** No body, and the connection switches protocol (101 / CONNECT tunnel). */
  SKIP_BODY_UPGRADE: 2,
} as const;

/** What llhttp tells the handler. Every method returns 0 to continue, or a nonzero code to stop. */
export interface ParserHandler {
  onMessageBegin(): number;
  /** One complete header of the message head. `name` is lower case. */
  onHeader(name: string, value: string): number;
  /** Read `url`, `statusCode`, version etc. from the parser. May return a `HeadersCompleteResult`. */
  onHeadersComplete(parser: HttpParser): number;
  /** A view of the chunk being parsed: valid only during the call unless copied. */
  onBody(data: Buffer): number;
  /** One complete trailer field (chunked bodies only); delivered before `onMessageComplete`. */
  onTrailer(name: string, value: string): number;
  /** Return `ParserError.PAUSED` to stop parsing here (pipelining); `resume()` continues. */
  onMessageComplete(): number;
}

/** The project's `lib: ES2023` has no WebAssembly typings (they ship with lib.dom): the little used is declared. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WebAssemblyGlobal = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

export interface LlhttpExports {
  memory: { readonly buffer: ArrayBuffer };
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(ptr: number): void;
  llhttp_execute(ptr: number, data: number, len: number): number;
  llhttp_finish(ptr: number): number;
  llhttp_resume(ptr: number): void;
  llhttp_resume_after_upgrade(ptr: number): void;
  llhttp_get_error_pos(ptr: number): number;
  llhttp_get_error_reason(ptr: number): number;
  llhttp_get_http_major(ptr: number): number;
  llhttp_get_http_minor(ptr: number): number;
  llhttp_get_method(ptr: number): number;
  llhttp_method_name(method: number): number;
  llhttp_message_needs_eof(ptr: number): number;
}

const EMPTY = Buffer.alloc(0);
/** llhttp's highest method number (QUERY); `llhttp_method_name` traps beyond it. */
const LAST_METHOD = 46;
const HEADER_STATE_NONE = 0;
const HEADER_STATE_FIELD = 1;
const HEADER_STATE_VALUE = 2;

let wasm: LlhttpExports | null = null;
/** Method names indexed by llhttp's method number, read from the module once. */
let methodNames: string[] = [];
/** The parser inside `llhttp_execute`/`llhttp_finish` right now (execution is never re-entrant). */
let current: HttpParser | null = null;
let currentChunk: Buffer = EMPTY;
/** Input area in wasm memory where chunks are copied; grows to the largest chunk seen. */
let inputPtr = 0;
let inputSize = 0;
/**
 * A view of all of wasm memory, kept instead of a new view per chunk. Memory growth detaches it
 * (its length drops to 0), which the bounds check in `copyIn` notices.
 */
let memoryBytes = new Uint8Array(0);

/** Extracts the wasm bytes that `llhttp-wasm` embeds as base64 in its JS entry point. */
export function readEmbeddedWasm(): Buffer {
  const source = readFileSync(require.resolve('llhttp-wasm'), 'latin1');
  const match = /binaryString\s*=\s*"([A-Za-z0-9+/=]+)"/.exec(source);
  if (!match) throw new Error('llhttp-wasm: embedded wasm module not found');
  return Buffer.from(match[1]!, 'base64');
}

function cString(api: LlhttpExports, ptr: number): string {
  if (ptr === 0) return '';
  const bytes = new Uint8Array(api.memory.buffer);
  const end = bytes.indexOf(0, ptr);
  return Buffer.from(api.memory.buffer, ptr, end - ptr).toString('latin1');
}

/** Maps a wasm address inside the input area back to an offset in the chunk being parsed. */
function chunkOffset(at: number): number {
  return at - inputPtr;
}

/**
 * Strings for the spans of one head are sliced from one latin1 string of the region around them:
 * one native conversion per head instead of one per field and value (each costs ~50 ns), then cheap
 * V8 substrings. Regions are bounded so a chunk mostly made of body is never converted whole.
 */
const REGION_BYTES = 2048;
let regionText = '';
let regionStart = 0;
let regionEnd = -1;

function spanString(at: number, len: number): string {
  const start = chunkOffset(at);
  const end = start + len;
  if (start < regionStart || end > regionEnd) {
    regionStart = start;
    regionEnd = Math.min(currentChunk.length, start + Math.max(len, REGION_BYTES));
    regionText = latin1Slice(currentChunk, regionStart, regionEnd);
  }
  return regionText.slice(start - regionStart, end - regionStart);
}

/** Forgets the region when its chunk is done (offsets would mean something else in the next one). */
function resetRegion(): void {
  regionText = '';
  regionStart = 0;
  regionEnd = -1;
}

const imports = {
  env: {
    wasm_on_message_begin(_p: number): number {
      return current!.messageBegin();
    },
    wasm_on_url(_p: number, at: number, len: number): number {
      return current!.urlSpan(at, len);
    },
    wasm_on_status(_p: number, at: number, len: number): number {
      return current!.statusSpan(at, len);
    },
    wasm_on_header_field(_p: number, at: number, len: number): number {
      return current!.fieldSpan(at, len);
    },
    wasm_on_header_value(_p: number, at: number, len: number): number {
      return current!.valueSpan(at, len);
    },
    wasm_on_headers_complete(_p: number, statusCode: number, upgrade: number, keepAlive: number): number {
      return current!.headersComplete(statusCode, upgrade === 1, keepAlive === 1);
    },
    wasm_on_body(_p: number, at: number, len: number): number {
      return current!.bodySpan(at, len);
    },
    wasm_on_message_complete(_p: number): number {
      return current!.messageComplete();
    },
  },
};

/** Compiles and instantiates the module on first use in this thread. */
function llhttp(): LlhttpExports {
  if (wasm !== null) return wasm;
  const module = new WebAssemblyGlobal.Module(readEmbeddedWasm());
  const api = new WebAssemblyGlobal.Instance(module, imports).exports as LlhttpExports;
  api._initialize();
  const names: string[] = [];
  for (let i = 0; i <= LAST_METHOD; i++) names.push(cString(api, api.llhttp_method_name(i)));
  methodNames = names;
  wasm = api;
  return api;
}

/** Copies `chunk` into the shared input area, growing it (by 4 KiB steps) when needed. */
function copyIn(api: LlhttpExports, chunk: Buffer): void {
  if (chunk.length > inputSize) {
    if (inputPtr !== 0) api.free(inputPtr);
    inputSize = Math.ceil(chunk.length / 4096) * 4096;
    inputPtr = api.malloc(inputSize);
  }
  if (memoryBytes.length < inputPtr + chunk.length) memoryBytes = new Uint8Array(api.memory.buffer);
  memoryBytes.set(chunk, inputPtr);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** llhttp strips leading whitespace from values but keeps trailing OWS, which is not part of the value. */
function trimTrailingOws(value: string): string {
  let end = value.length;
  while (end > 0 && isOws(value.charCodeAt(end - 1))) end--;
  return end === value.length ? value : value.slice(0, end);
}

/** llhttp's method names, indexed by its method numbers. */
export function llhttpMethodNames(): readonly string[] {
  llhttp();
  return methodNames;
}

/**
 * True while some parser of this thread is inside `execute`/`finish`. A proxy's upstream parser
 * callback can complete a downstream response; whoever would then parse the next request must
 * wait until this is false (see `whenParserIdle`).
 */
export function parserBusy(): boolean {
  return current !== null;
}

/**
 * Runs `fn` now if no parser is executing, else right after the current one returns (a microtask:
 * still before any further I/O). The wasm input area is shared by every parser of the thread, so
 * parsers never nest.
 */
export function whenParserIdle(fn: () => void): void {
  if (current === null) fn();
  else queueMicrotask(fn);
}

/** One llhttp parser (one per connection). Not re-entrant: handlers must not call `execute`. */
export class HttpParser {
  readonly handler: ParserHandler;
  /** The message head (request line or status line + headers) may not exceed this many bytes. */
  readonly maxHeadBytes: number;
  /** Request-target of the current request (complete once headers are). */
  url = '';
  /** Reason phrase of the current response. */
  statusText = '';
  statusCode = 0;
  /** Request method name, e.g. 'GET' (requests only). */
  method = '';
  upgrade = false;
  /** llhttp's verdict per version and `Connection`. */
  keepAlive = false;
  /** Offset in the last executed chunk where parsing stopped (pause or error). */
  stopOffset = 0;
  private ptr: number;
  private headBytes = 0;
  private headerState = HEADER_STATE_NONE;
  private inTrailers = false;
  private fieldName = '';
  private fieldValue = '';
  private ownError = 0;

  constructor(type: ParserType, handler: ParserHandler, maxHeadBytes: number) {
    this.handler = handler;
    this.maxHeadBytes = maxHeadBytes;
    this.ptr = llhttp().llhttp_alloc(type);
  }

  /**
   * Parses `chunk`. Returns `ParserError.OK`, `PAUSED` / `PAUSED_UPGRADE` (then `stopOffset` is where
   * the unparsed rest of the chunk starts), or an error code (see `errorReason`).
   */
  execute(chunk: Buffer): number {
    if (current !== null) throw new Error('HttpParser.execute is not re-entrant');
    const api = llhttp();
    copyIn(api, chunk);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- published for the wasm imports
    current = this;
    currentChunk = chunk;
    this.ownError = 0;
    let ret: number;
    try {
      ret = api.llhttp_execute(this.ptr, inputPtr, chunk.length);
    } finally {
      current = null;
      currentChunk = EMPTY;
      resetRegion();
    }
    if (ret === ParserError.OK) return ret;
    this.stopOffset = api.llhttp_get_error_pos(this.ptr) - inputPtr;
    return this.ownError !== 0 ? this.ownError : ret;
  }

  /** The peer closed: completes a close-delimited message. Returns OK or an error code. */
  finish(): number {
    if (current !== null) throw new Error('HttpParser.finish is not re-entrant');
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- published for the wasm imports
    current = this;
    this.ownError = 0;
    let ret: number;
    try {
      ret = llhttp().llhttp_finish(this.ptr);
    } finally {
      current = null;
    }
    return this.ownError !== 0 ? this.ownError : ret;
  }

  /**
   * Continues after `PAUSED`. The caller must then execute the rest of the chunk, even when it is
   * empty: that lets llhttp leave its "message complete" state (else `finish()` reports a truncated
   * message) and report `PAUSED_UPGRADE` if the finished message was an upgrade.
   */
  resume(): void {
    llhttp().llhttp_resume(this.ptr);
  }

  /** Continues after `PAUSED_UPGRADE` when the upgrade was refused: the rest is HTTP again. */
  resumeAfterUpgrade(): void {
    llhttp().llhttp_resume_after_upgrade(this.ptr);
  }

  /** HTTP major version of the current message, as far as llhttp has read it (also after an error). */
  get versionMajor(): number {
    return llhttp().llhttp_get_http_major(this.ptr);
  }

  get versionMinor(): number {
    return llhttp().llhttp_get_http_minor(this.ptr);
  }

  /**
   * llhttp reads the current message's body until the peer closes (its framing verdict; valid from
   * headers-complete on).
   */
  get needsEof(): boolean {
    return llhttp().llhttp_message_needs_eof(this.ptr) === 1;
  }

  /** Human-readable reason of the last error. */
  get errorReason(): string {
    if (this.ownError === ParserError.HEAD_TOO_LARGE) return 'message head too large';
    return cString(llhttp(), llhttp().llhttp_get_error_reason(this.ptr));
  }

  destroy(): void {
    if (this.ptr === 0) return;
    llhttp().llhttp_free(this.ptr);
    this.ptr = 0;
  }

  // ---- called from the wasm imports only

  messageBegin(): number {
    this.url = '';
    this.statusText = '';
    this.headBytes = 0;
    this.headerState = HEADER_STATE_NONE;
    this.inTrailers = false;
    return this.handler.onMessageBegin();
  }

  urlSpan(at: number, len: number): number {
    if (this.countHead(len) !== 0) return this.ownError;
    this.url += spanString(at, len);
    return 0;
  }

  statusSpan(at: number, len: number): number {
    if (this.countHead(len) !== 0) return this.ownError;
    this.statusText += spanString(at, len);
    return 0;
  }

  fieldSpan(at: number, len: number): number {
    if (this.countHead(len) !== 0) return this.ownError;
    const piece = spanString(at, len).toLowerCase();
    if (this.headerState === HEADER_STATE_FIELD) {
      this.fieldName += piece;
      return 0;
    }
    const ret = this.headerState === HEADER_STATE_VALUE ? this.emitField() : 0;
    this.fieldName = piece;
    this.headerState = HEADER_STATE_FIELD;
    return ret;
  }

  valueSpan(at: number, len: number): number {
    if (this.countHead(len) !== 0) return this.ownError;
    const piece = spanString(at, len);
    if (this.headerState === HEADER_STATE_VALUE) this.fieldValue += piece;
    else this.fieldValue = piece;
    this.headerState = HEADER_STATE_VALUE;
    return 0;
  }

  bodySpan(at: number, len: number): number {
    const start = chunkOffset(at);
    return this.handler.onBody(currentChunk.subarray(start, start + len));
  }

  headersComplete(statusCode: number, upgrade: boolean, keepAlive: boolean): number {
    const ret = this.headerState === HEADER_STATE_VALUE ? this.emitField() : 0;
    if (ret !== 0) return ret;
    this.headerState = HEADER_STATE_NONE;
    this.inTrailers = true;
    this.statusCode = statusCode;
    this.upgrade = upgrade;
    this.keepAlive = keepAlive;
    this.method = statusCode === 0 ? methodNames[wasm!.llhttp_get_method(this.ptr)]! : '';
    return this.handler.onHeadersComplete(this);
  }

  messageComplete(): number {
    const ret = this.headerState === HEADER_STATE_VALUE ? this.emitField() : 0;
    this.headerState = HEADER_STATE_NONE;
    return ret !== 0 ? ret : this.handler.onMessageComplete();
  }

  private emitField(): number {
    const value = trimTrailingOws(this.fieldValue);
    return this.inTrailers
      ? this.handler.onTrailer(this.fieldName, value)
      : this.handler.onHeader(this.fieldName, value);
  }

  /** Enforces `maxHeadBytes` while the head streams in, before any unbounded concatenation. */
  private countHead(len: number): number {
    this.headBytes += len;
    if (this.headBytes > this.maxHeadBytes) this.ownError = ParserError.HEAD_TOO_LARGE;
    return this.ownError;
  }
}
