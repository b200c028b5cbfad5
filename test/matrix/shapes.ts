/**
 * The shapes of the response-shape × connection-reuse matrix: what the origin answers (response
 * shapes) or what the client uploads (upload shapes), each with the outcome every conforming proxy
 * must produce. Proxies that differ on purpose say so in `targets.ts`, never here.
 *
 * Sizes sit around the buffer limits the data path has: Node's 16 KiB stream high-water mark (a
 * write of that much returns false, the proxy pauses the other side) and 64 KiB socket reads.
 */
import { chunk, serializeHead, type Header } from '../support/http1-wire';
import { sha256, type OriginReply, type OriginRequest, type OriginScript } from '../support/raw-origin';
import type { ClientRequest, PeerMode } from '../support/raw-client';

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** Requests in a row per cell, on one downstream connection where the shape allows. */
export const REQUESTS_PER_CELL = 5;

export interface Expected {
  /** Final status of every response. */
  status: number;
  /** The body of request `i`'s response, byte for byte. */
  body(i: number): Buffer;
  /** Statuses of the 1xx responses the client sees before the final one. */
  informational: number[];
  /** Trailer fields of request `i`'s response (chunked only). */
  trailers(i: number): Header[];
  /** HEAD: the Content-Length the response must announce. */
  headContentLength?: number;
  /**
   * One upstream connection serves every request (false: one per request, never reused; 'either':
   * reuse depends on a race the proxy may win, so only the bounds are checked).
   */
  upstreamReused: boolean | 'either';
  /** One downstream connection serves every request (else: the client needs a new one each time). */
  downstreamReused: boolean;
  /** The origin sees each request's complete body (false: the proxy may cut it off). */
  originReadsBody: boolean;
}

/** What a proxy may treat specially in a shape; intended differences (`targets.ts`) key off these. */
export type ShapeFeature =
  | 'trailers'
  | 'informational'
  | 'expect-continue'
  | 'expect-refused'
  | 'close-delimited'
  | 'connection-close'
  | 'head'
  | 'no-content'
  | 'not-modified';

export interface Shape {
  name: string;
  kind: 'response' | 'upload';
  feature?: ShapeFeature;
  /** The peers this shape runs with; `notWith` says why the others are left out. */
  peers: PeerMode[];
  notWith?: string;
  /** Request `i` of a cell whose route prefix is `prefix` (e.g. `/c12`). */
  request(i: number, prefix: string): ClientRequest;
  origin: OriginScript;
  expected: Expected;
}

const ALL_PEERS: PeerMode[] = ['fast', 'slow', 'pipeline'];

const bodies = new Map<string, Buffer>();

/** A body of `size` bytes that differs per request `i` (a response delivered to the wrong request shows). */
export function bodyFor(size: number, i: number): Buffer {
  const key = `${size}/${i}`;
  let body = bodies.get(key);
  if (body === undefined) {
    body = size === 0 ? Buffer.alloc(0) : Buffer.alloc(size, `<${i}>abcdefghijklmnopqrstuvwxyz0123456789`);
    bodies.set(key, body);
  }
  return body;
}

/** The request index, from a target ending in `/r<i>`. */
function requestIndex(request: OriginRequest): number {
  const m = /\/r(\d+)$/.exec(request.head.target);
  if (m === null) throw new Error(`unexpected target ${request.head.target}`);
  return Number(m[1]);
}

function head(status: string, headers: Header[]): Buffer {
  return Buffer.from(serializeHead(`HTTP/1.1 ${status}`, headers), 'latin1');
}

function get(method: string, extra: Header[] = []): (i: number, prefix: string) => ClientRequest {
  return (i, prefix) => ({
    method,
    pieces: [
      Buffer.from(serializeHead(`${method} ${prefix}/r${i} HTTP/1.1`, [['host', 'matrix'], ...extra])),
    ],
  });
}

/** The expectation of a plain exchange: 200, no 1xx, no trailers, both connections reused. */
const PLAIN_EXCHANGE: Omit<Expected, 'body'> = {
  status: 200,
  informational: [],
  trailers: () => [],
  upstreamReused: true,
  downstreamReused: true,
  originReadsBody: true,
};

function responseShape(
  name: string,
  origin: (i: number, reply: OriginReply, request: OriginRequest) => Promise<void>,
  expected: Partial<Expected> & Pick<Expected, 'body'>,
  options: { feature?: ShapeFeature; method?: string; requestHeaders?: Header[] } = {},
): Shape {
  const { feature, method = 'GET', requestHeaders = [] } = options;
  return {
    name,
    kind: 'response',
    feature,
    peers: ALL_PEERS,
    request: get(method, requestHeaders),
    origin: async (request, reply) => {
      await request.body;
      await origin(requestIndex(request), reply, request);
    },
    expected: { ...PLAIN_EXCHANGE, ...expected },
  };
}

function contentLength(size: number): Shape {
  return responseShape(
    `content-length ${sizeName(size)}`,
    (i, reply) =>
      reply.write(Buffer.concat([head('200 OK', [['content-length', String(size)]]), bodyFor(size, i)])),
    { body: (i) => bodyFor(size, i) },
  );
}

/** One chunk holding the whole body, written with the head and the last chunk (one read at the proxy). */
function chunkedOnePiece(size: number): Shape {
  return responseShape(
    `chunked, one ${sizeName(size)} piece`,
    (i, reply) =>
      reply.write(
        Buffer.concat([
          head('200 OK', [['transfer-encoding', 'chunked']]),
          chunk(bodyFor(size, i)),
          chunk(''),
        ]),
      ),
    { body: (i) => bodyFor(size, i) },
  );
}

const SMALL_PIECES = 200;
const SMALL_PIECE = 100;

/** Many small chunks, each its own write, yielding to the event loop now and then (many reads). */
const chunkedManyPieces = responseShape(
  `chunked, ${SMALL_PIECES} pieces of ${SMALL_PIECE} B`,
  async (i, reply) => {
    const body = bodyFor(SMALL_PIECES * SMALL_PIECE, i);
    await reply.write(head('200 OK', [['transfer-encoding', 'chunked']]));
    for (let p = 0; p < SMALL_PIECES; p++) {
      const written = reply.write(chunk(body.subarray(p * SMALL_PIECE, (p + 1) * SMALL_PIECE)));
      if (p % 20 === 19) await written;
    }
    await reply.write(chunk(''));
  },
  { body: (i) => bodyFor(SMALL_PIECES * SMALL_PIECE, i) },
);

const trailerSize = 20 * KIB;
const trailersOf = (i: number): Header[] => [
  ['x-checksum', sha256(bodyFor(trailerSize, i))],
  ['x-request', String(i)],
];
const chunkedTrailers = responseShape(
  `chunked ${sizeName(trailerSize)} with trailers`,
  async (i, reply) => {
    const body = bodyFor(trailerSize, i);
    await reply.write(
      Buffer.concat([
        head('200 OK', [
          ['transfer-encoding', 'chunked'],
          ['trailer', 'x-checksum'],
        ]),
        chunk(body.subarray(0, 1000)),
      ]),
    );
    await reply.write(Buffer.concat([chunk(body.subarray(1000)), chunk('', trailersOf(i))]));
  },
  { body: (i) => bodyFor(trailerSize, i), trailers: trailersOf },
  { feature: 'trailers' },
);

const closeDelimitedSize = 20 * KIB;
const closeDelimited = responseShape(
  `close-delimited ${sizeName(closeDelimitedSize)}`,
  async (i, reply) => {
    await reply.write(
      Buffer.concat([head('200 OK', [['content-type', 'text/plain']]), bodyFor(closeDelimitedSize, i)]),
    );
    reply.end();
  },
  { body: (i) => bodyFor(closeDelimitedSize, i), upstreamReused: false },
  { feature: 'close-delimited' },
);

const headLength = 20 * KIB;
const headResponse = responseShape(
  'HEAD',
  (_i, reply) => reply.write(head('200 OK', [['content-length', String(headLength)]])),
  { body: () => Buffer.alloc(0), headContentLength: headLength },
  { feature: 'head', method: 'HEAD' },
);

const noContent = responseShape(
  '204',
  (i, reply) => reply.write(head('204 No Content', [['x-request', String(i)]])),
  { status: 204, body: () => Buffer.alloc(0) },
  { feature: 'no-content' },
);

const notModified = responseShape(
  '304',
  (_i, reply) => reply.write(head('304 Not Modified', [['etag', '"v1"']])),
  { status: 304, body: () => Buffer.alloc(0) },
  { feature: 'not-modified', requestHeaders: [['if-none-match', '"v1"']] },
);

function informationalFirst(status: string, headers: Header[], size: number): Shape {
  const code = Number(status.slice(0, 3));
  return responseShape(
    `${code} then 200, ${sizeName(size)}`,
    async (i, reply) => {
      await reply.write(head(status, headers));
      await reply.write(
        Buffer.concat([head('200 OK', [['content-length', String(size)]]), bodyFor(size, i)]),
      );
    },
    { body: (i) => bodyFor(size, i), informational: [code] },
    { feature: 'informational' },
  );
}

const connectionCloseSize = 20 * KIB;
const connectionClose = responseShape(
  `connection: close, content-length ${sizeName(connectionCloseSize)}`,
  async (i, reply) => {
    await reply.write(
      Buffer.concat([
        head('200 OK', [
          ['content-length', String(connectionCloseSize)],
          ['connection', 'close'],
        ]),
        bodyFor(connectionCloseSize, i),
      ]),
    );
    reply.end();
  },
  { body: (i) => bodyFor(connectionCloseSize, i), upstreamReused: false },
  { feature: 'connection-close' },
);

export const RESPONSE_SHAPES: Shape[] = [
  contentLength(0),
  contentLength(16 * KIB + 1),
  contentLength(MIB),
  chunkedOnePiece(1),
  chunkedOnePiece(16 * KIB - 1),
  chunkedOnePiece(16 * KIB),
  chunkedOnePiece(16 * KIB + 1),
  chunkedOnePiece(64 * KIB),
  chunkedOnePiece(MIB),
  chunkedManyPieces,
  chunkedTrailers,
  closeDelimited,
  headResponse,
  noContent,
  notModified,
  informationalFirst('100 Continue', [], 5 * KIB),
  informationalFirst('103 Early Hints', [['link', '</style.css>; rel=preload; as=style']], 20 * KIB),
  connectionClose,
];

// ---------------------------------------------------------------- uploads

/** The origin's answer to an upload: what it received, as `<length> <sha256>`. */
export function uploadReceipt(body: Buffer): Buffer {
  return Buffer.from(`${body.length} ${sha256(body)}`);
}

async function answerReceipt(request: OriginRequest, reply: OriginReply): Promise<void> {
  const receipt = uploadReceipt(await request.body);
  await reply.write(Buffer.concat([head('200 OK', [['content-length', String(receipt.length)]]), receipt]));
}

function uploadShape(
  name: string,
  request: (i: number, prefix: string) => ClientRequest,
  body: (i: number) => Buffer,
  overrides: Partial<Shape> = {},
  expected: Partial<Expected> = {},
): Shape {
  return {
    name,
    kind: 'upload',
    peers: ALL_PEERS,
    request,
    origin: answerReceipt,
    ...overrides,
    expected: { ...PLAIN_EXCHANGE, body: (i) => uploadReceipt(body(i)), ...expected },
  };
}

function postHead(prefix: string, i: number, headers: Header[]): Buffer {
  return Buffer.from(serializeHead(`POST ${prefix}/r${i} HTTP/1.1`, [['host', 'matrix'], ...headers]));
}

/** `body` cut in `parts` nearly equal pieces (a slow peer writes them apart). */
function split(body: Buffer, parts: number): Buffer[] {
  const out: Buffer[] = [];
  const size = Math.ceil(body.length / parts);
  for (let at = 0; at < body.length; at += size) out.push(body.subarray(at, at + size));
  return out;
}

function uploadContentLength(size: number): Shape {
  return uploadShape(
    `upload content-length ${sizeName(size)}`,
    (i, prefix) => ({
      method: 'POST',
      pieces: [postHead(prefix, i, [['content-length', String(size)]]), ...split(bodyFor(size, i), 3)],
    }),
    (i) => bodyFor(size, i),
  );
}

const UPLOAD_PIECES = 100;
const UPLOAD_PIECE = 700;
const uploadChunked = uploadShape(
  `upload chunked, ${UPLOAD_PIECES} pieces of ${UPLOAD_PIECE} B`,
  (i, prefix) => {
    const pieces = split(bodyFor(UPLOAD_PIECES * UPLOAD_PIECE, i), UPLOAD_PIECES).map((p) => chunk(p));
    // A slow peer writes 5 groups of 20 chunks; the last group carries the last chunk.
    const groups: Buffer[] = [];
    for (let g = 0; g < 5; g++) groups.push(Buffer.concat(pieces.slice(g * 20, g * 20 + 20)));
    groups[4] = Buffer.concat([groups[4]!, chunk('')]);
    return { method: 'POST', pieces: [postHead(prefix, i, [['transfer-encoding', 'chunked']]), ...groups] };
  },
  (i) => bodyFor(UPLOAD_PIECES * UPLOAD_PIECE, i),
);

const uploadEmpty = uploadShape(
  'upload content-length 0',
  (i, prefix) => ({ method: 'POST', pieces: [postHead(prefix, i, [['content-length', '0']])] }),
  () => Buffer.alloc(0),
);

const uploadChunkedEmpty = uploadShape(
  'upload chunked, empty',
  (i, prefix) => ({
    method: 'POST',
    pieces: [postHead(prefix, i, [['transfer-encoding', 'chunked']]), chunk('')],
  }),
  () => Buffer.alloc(0),
);

const EXPECT_SIZE = 20 * KIB;
const EXPECT_NOT_PIPELINED = 'a client that expects 100-continue waits for it, so it does not pipeline';

function expectRequest(i: number, prefix: string): ClientRequest {
  return {
    method: 'POST',
    expectContinue: true,
    pieces: [
      postHead(prefix, i, [
        ['content-length', String(EXPECT_SIZE)],
        ['expect', '100-continue'],
      ]),
      ...split(bodyFor(EXPECT_SIZE, i), 2),
    ],
  };
}

/** The origin answers 100 Continue to the expectation, then reads the body and answers 200. */
const expectContinue = uploadShape(
  `expect: 100-continue, origin answers 100 then reads ${sizeName(EXPECT_SIZE)}`,
  expectRequest,
  (i) => bodyFor(EXPECT_SIZE, i),
  {
    feature: 'expect-continue',
    peers: ['fast', 'slow'],
    notWith: EXPECT_NOT_PIPELINED,
    origin: async (request, reply) => {
      if (request.head.headers.some(([n, v]) => n === 'expect' && v.toLowerCase() === '100-continue')) {
        await reply.write(head('100 Continue', []));
      }
      await answerReceipt(request, reply);
    },
  },
  { informational: [100] },
);

const REFUSAL = Buffer.from('too large');
/** The origin refuses at once (413) without reading the body: the body never goes on that connection. */
const expectRefused = uploadShape(
  `expect: 100-continue, origin answers 413 without reading`,
  expectRequest,
  (i) => bodyFor(EXPECT_SIZE, i),
  {
    feature: 'expect-refused',
    peers: ['fast', 'slow'],
    notWith: EXPECT_NOT_PIPELINED,
    origin: (_request, reply) =>
      reply.write(
        Buffer.concat([head('413 Payload Too Large', [['content-length', String(REFUSAL.length)]]), REFUSAL]),
      ),
  },
  {
    status: 413,
    body: () => REFUSAL,
    upstreamReused: false,
    downstreamReused: false,
    originReadsBody: false,
  },
);

export const UPLOAD_SHAPES: Shape[] = [
  uploadContentLength(16 * KIB - 1),
  uploadContentLength(16 * KIB),
  uploadContentLength(16 * KIB + 1),
  uploadContentLength(64 * KIB - 1),
  uploadContentLength(64 * KIB),
  uploadContentLength(64 * KIB + 1),
  uploadChunked,
  uploadEmpty,
  uploadChunkedEmpty,
  expectContinue,
  expectRefused,
];

export function sizeName(bytes: number): string {
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= KIB) {
    const k = Math.round(bytes / KIB);
    const rest = bytes - k * KIB;
    return rest === 0 ? `${k} KiB` : `${k} KiB${rest > 0 ? '+' : '−'}${Math.abs(rest)}`;
  }
  return `${bytes} B`;
}
