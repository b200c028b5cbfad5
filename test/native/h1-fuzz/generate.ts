/**
 * Inputs for the HTTP/1 differential fuzzer: a seeded PRNG, generators of valid and nearly valid
 * requests and responses, the conformance and smuggling corpus the suite already tests, byte-level
 * mutation, and the ways an input is split into reads.
 */

/** mulberry32: small, fast, and the same sequence for a seed on every machine. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 2^32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const TCHAR = ALPHA + DIGITS + "!#$%&'*+-.^_`|~";
const VCHAR = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
const OBS_TEXT = Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(0x80 + i)).join('');
/** Bytes that change how a parser reads what surrounds them. */
const INTERESTING = '\r\n \t:;,="\\_-/?#%@\0\x01\x0b\x0c\x7f\x80\xa0\xff0123456789aAfFzZ';

function chars(rng: Rng, alphabet: string, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** Whitespace-separated words: keeps long lists of tokens compact. */
function words(text: string): string[] {
  return text.trim().split(/\s+/);
}

/** A length that is usually short and sometimes long (to reach head limits). */
function size(rng: Rng, short: number, long: number): number {
  return rng.chance(0.9) ? rng.int(short + 1) : rng.range(short, long);
}

const COMMON_METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH'];
const ODD_METHODS = words(`
  TRACE CONNECT QUERY PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK BIND REBIND UNBIND ACL REPORT
  MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE PURGE MKCALENDAR LINK UNLINK
  SOURCE PRI DESCRIBE SETUP PLAY TEARDOWN GET_PARAMETER RECORD FLUSH BREW get GETS G POSTX
`);

const ODD_VERSIONS = words(`
  HTTP/2.0 HTTP/1.2 HTTP/0.9 HTTP/3.0 HTTP/1.10 HTTP/11 http/1.1 HTTP/1. RTSP/1.0 ICE/1.0 HTTP/9.9
`);

function target(rng: Rng, method: string): string {
  switch (rng.int(10)) {
    case 0:
      return '*';
    case 1:
      return `http://example.com${rng.chance(0.5) ? ':8080' : ''}/${chars(rng, ALPHA + DIGITS + '/', size(rng, 10, 200))}`;
    case 2:
      return method === 'CONNECT' || rng.chance(0.3) ? 'example.com:443' : '/';
    case 3:
      return '/' + chars(rng, VCHAR, size(rng, 20, 3000));
    case 4:
      return '/' + chars(rng, ALPHA + '/?&=%#' + OBS_TEXT.slice(0, 4), size(rng, 20, 200));
    default:
      return (
        '/' + chars(rng, ALPHA + DIGITS + '/-._~', size(rng, 12, 2500)) + (rng.chance(0.3) ? '?a=1&b=2' : '')
      );
  }
}

const COMMON_NAMES = words(`
  Host User-Agent Accept Accept-Encoding Cookie X-Request-Id Content-Type Connection Expect
  X-Forwarded-For Authorization Cache-Control Date Server Vary ETag Location Set-Cookie Trailer TE
  Keep-Alive Proxy-Connection
`);

function headerName(rng: Rng): string {
  switch (rng.int(8)) {
    case 0:
      return chars(rng, TCHAR, rng.range(1, 30));
    case 1:
      return 'x_' + chars(rng, ALPHA, rng.range(1, 8)) + (rng.chance(0.5) ? '_id' : '');
    case 2: {
      const name = rng.pick(COMMON_NAMES);
      return rng.chance(0.5) ? name.toUpperCase() : name.toLowerCase();
    }
    case 3:
      return 'X-' + chars(rng, ALPHA + DIGITS + '-', size(rng, 12, 600));
    default:
      return rng.pick(COMMON_NAMES);
  }
}

function headerValue(rng: Rng): string {
  const ows = (): string => (rng.chance(0.15) ? chars(rng, ' \t', rng.range(1, 3)) : '');
  let body: string;
  switch (rng.int(8)) {
    case 0:
      body = '';
      break;
    case 1:
      body = chars(rng, VCHAR + ' \t', size(rng, 30, 3000));
      break;
    case 2:
      body = chars(rng, VCHAR + OBS_TEXT, size(rng, 20, 200));
      break;
    case 3:
      body = chars(rng, DIGITS, rng.range(1, 22));
      break;
    default:
      body = chars(rng, ALPHA + DIGITS + '-./=;, ', size(rng, 24, 400)).trim();
  }
  return ows() + body + ows();
}

const TRANSFER_ENCODINGS = [
  'chunked',
  'chunked',
  'chunked',
  'Chunked',
  'CHUNKED',
  'gzip, chunked',
  'chunked, gzip',
  'gzip',
  'identity',
  'chunked, chunked',
  'chunked,chunked',
  ', chunked',
  'chunked,',
  '',
  ' chunked',
  'chunked ',
  'chunked\t',
  'xchunked',
  'chunkedx',
  'chunked;q=1',
  'deflate,gzip,chunked',
  'chunked\xa0',
  '\xa0chunked',
  'chunked\x0b',
  'CHUNKED, Chunked',
  'gzip,,chunked',
  'chunk',
  'chu nked',
];

const CONTENT_LENGTHS = [
  '0',
  '00',
  '1',
  '+1',
  '-1',
  ' 1',
  '1 ',
  '1,1',
  '1, 1',
  '0x10',
  '1e3',
  '',
  '9007199254740993',
  '18446744073709551615',
  '18446744073709551616',
  '99999999999999999999',
  '4294967296',
  '007',
];

function chunkedBody(rng: Rng, crlf: string): string {
  let out = '';
  const chunkCount = rng.int(4);
  for (let i = 0; i < chunkCount; i++) {
    const data = chars(rng, VCHAR + ' ', size(rng, 40, 2000));
    let sizeText = data.length.toString(16);
    if (rng.chance(0.3)) sizeText = sizeText.toUpperCase();
    if (rng.chance(0.1)) sizeText = '0' + sizeText;
    const ext = rng.chance(0.2)
      ? rng.pick([';a=b', ';a', ';a="q s"', '; a=b', ';a=b;c', ';a="\\""', ';=b', ';a=', ' ;a'])
      : '';
    out += sizeText + ext + crlf + data + crlf;
  }
  out += rng.pick(['0', '0', '0', '000', '0;ext=1']) + crlf;
  const trailerCount = rng.chance(0.7) ? 0 : rng.range(1, 3);
  for (let i = 0; i < trailerCount; i++) out += `${headerName(rng)}: ${headerValue(rng)}${crlf}`;
  return out + (rng.chance(0.97) ? crlf : '');
}

/** One request, mostly valid, with framing chosen from the cases that matter for smuggling. */
function oneRequest(rng: Rng): string {
  const crlf = rng.chance(0.98) ? '\r\n' : rng.pick(['\n', '\r', '\r\r\n']);
  const method = rng.chance(0.85) ? rng.pick(COMMON_METHODS) : rng.pick(ODD_METHODS);
  const sep = rng.chance(0.98) ? ' ' : rng.pick(['  ', '\t', '']);
  const version = rng.chance(0.9) ? (rng.chance(0.85) ? 'HTTP/1.1' : 'HTTP/1.0') : rng.pick(ODD_VERSIONS);
  let text = `${method}${sep}${target(rng, method)} ${version}${crlf}`;
  const headers: [string, string][] = [];
  if (rng.chance(0.9)) headers.push(['Host', rng.chance(0.9) ? 'example.com' : headerValue(rng)]);
  const extra = rng.chance(0.05) ? rng.range(90, 110) : rng.int(8);
  for (let i = 0; i < extra; i++) headers.push([headerName(rng), headerValue(rng)]);
  let body = '';
  switch (rng.int(7)) {
    case 0:
    case 1: {
      body = chars(rng, VCHAR + '\r\n', size(rng, 50, 3000));
      const length = rng.chance(0.85) ? String(body.length) : rng.pick(CONTENT_LENGTHS);
      headers.push([rng.pick(['Content-Length', 'content-length', 'CONTENT-LENGTH']), length]);
      if (rng.chance(0.05)) headers.push(['Content-Length', length]);
      break;
    }
    case 2:
    case 3:
      headers.push([rng.pick(['Transfer-Encoding', 'transfer-encoding']), rng.pick(TRANSFER_ENCODINGS)]);
      if (rng.chance(0.05)) headers.push(['Transfer-Encoding', rng.pick(TRANSFER_ENCODINGS)]);
      if (rng.chance(0.08)) headers.push(['Content-Length', rng.pick(CONTENT_LENGTHS)]);
      body = chunkedBody(rng, crlf);
      break;
    case 4:
      headers.push(['Connection', 'Upgrade'], ['Upgrade', rng.pick(['websocket', 'h2c', 'foo'])]);
      if (rng.chance(0.3)) {
        headers.push(['Content-Length', '3']);
        body = 'abc';
      }
      break;
    default:
      if (rng.chance(0.3))
        headers.push(['Connection', rng.pick(['close', 'keep-alive', 'Close', 'upgrade, close'])]);
  }
  for (let i = headers.length - 1; i > 0 && rng.chance(0.3); i--) {
    const j = rng.int(i + 1);
    [headers[i], headers[j]] = [headers[j]!, headers[i]!];
  }
  for (const [name, value] of headers) text += `${name}:${rng.chance(0.9) ? ' ' : ''}${value}${crlf}`;
  return text + crlf + body;
}

/** One to three pipelined requests, sometimes after stray CRLFs. */
export function generateRequests(rng: Rng): Buffer {
  let text = rng.chance(0.05) ? '\r\n' : '';
  const count = rng.chance(0.7) ? 1 : rng.range(2, 3);
  for (let i = 0; i < count; i++) text += oneRequest(rng);
  return Buffer.from(text, 'latin1');
}

const STATUSES = [200, 200, 200, 201, 204, 206, 301, 302, 304, 400, 404, 500, 503, 599, 999, 101, 100, 150];
const INFORMATIONAL = [100, 100, 102, 103, 199];
const REASONS = ['OK', 'Not Found', '', 'Custom Reason Phrase', 'R\xe9sum\xe9', 'a\tb', 'x'];

function oneResponse(rng: Rng, status: number, crlf: string): string {
  const version = rng.chance(0.9) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/1.x']);
  let line = `${version} ${status}`;
  if (rng.chance(0.9))
    line += ' ' + (rng.chance(0.9) ? rng.pick(REASONS) : chars(rng, VCHAR + ' ', size(rng, 20, 2000)));
  let text = line + crlf;
  const headers: [string, string][] = [];
  const extra = rng.int(6);
  for (let i = 0; i < extra; i++) headers.push([headerName(rng), headerValue(rng)]);
  let body = '';
  if (status >= 200 || status === 101) {
    switch (rng.int(6)) {
      case 0:
      case 1:
        body = chars(rng, VCHAR + '\r\n', size(rng, 50, 3000));
        headers.push(['Content-Length', rng.chance(0.9) ? String(body.length) : rng.pick(CONTENT_LENGTHS)]);
        break;
      case 2:
        headers.push(['Transfer-Encoding', rng.pick(TRANSFER_ENCODINGS)]);
        if (rng.chance(0.1)) headers.push(['Content-Length', rng.pick(CONTENT_LENGTHS)]);
        body = chunkedBody(rng, crlf);
        break;
      case 3:
        body = chars(rng, VCHAR, size(rng, 40, 500)); // close-delimited
        break;
      default:
        headers.push(['Content-Length', '0']);
    }
    if (rng.chance(0.2)) headers.push(['Connection', rng.pick(['close', 'keep-alive'])]);
  }
  for (const [name, value] of headers) text += `${name}: ${value}${crlf}`;
  return text + crlf + body;
}

export interface ResponseInput {
  input: Buffer;
  /** The request method of each final response expected (HEAD responses have no body). */
  methods: string[];
}

/** Informational responses, then one to three final ones, each answering a GET or a HEAD. */
export function generateResponses(rng: Rng): ResponseInput {
  const crlf = rng.chance(0.98) ? '\r\n' : rng.pick(['\n', '\r']);
  let text = '';
  const methods: string[] = [];
  const finals = rng.chance(0.75) ? 1 : rng.range(2, 3);
  for (let i = 0; i < finals; i++) {
    const informational = rng.chance(0.8) ? 0 : rng.range(1, 2);
    for (let k = 0; k < informational; k++) text += oneResponse(rng, rng.pick(INFORMATIONAL), crlf);
    text += oneResponse(rng, rng.pick(STATUSES), crlf);
    methods.push(rng.chance(0.2) ? 'HEAD' : 'GET');
  }
  return { input: Buffer.from(text, 'latin1'), methods };
}

/** Requests and responses the suite already tests (conformance, smuggling), and classic attacks. */
export const REQUEST_CORPUS: readonly string[] = [
  'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'BREW / HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'GET / HTTP/1.0\r\n\r\n',
  'GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n',
  'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\nX-Ok: 2\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.1\r\nX(A): 1\r\n\r\n',
  'GET / HTTP/1.2\r\nHost: x\r\n\r\n',
  'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
  'GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: split/1.0\r\nX-Empty:\r\nX-Trailing-Space: v  \r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  'HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n',
  'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
  'POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nabcd',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n',
  'POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
  'POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world',
  'PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nX-Long: ' + 'a'.repeat(2000) + '\r\n\r\n',
  // Classic smuggling and conformance shapes.
  'POST / HTTP/1.1\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n',
  'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n',
  'POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello',
  'POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\nhello',
  'POST / HTTP/1.1\r\nContent-Length:\r\n\r\n',
  'POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n',
  'POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nabc',
  'GET / HTTP/1.1\nHost: a\n\n',
  'GET / HTTP/1.1\rHost: a\r\r',
  'GET  / HTTP/1.1\r\n\r\n',
  'GET /\tHTTP/1.1\r\n\r\n',
  'GET / HTTP/1.1 \r\n\r\n',
  'get / HTTP/1.1\r\n\r\n',
  'GET /a b HTTP/1.1\r\n\r\n',
  'GET /\x00 HTTP/1.1\r\n\r\n',
  'GET /\x7f HTTP/1.1\r\n\r\n',
  'GET /\xff HTTP/1.1\r\n\r\n',
  'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\ntunnel bytes',
  'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'GET / HTTP/1.1\r\n: empty-name\r\n\r\n',
  'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n',
  'GET / HTTP/1.1\r\nX\x00Y: 1\r\n\r\n',
  'GET / HTTP/1.1\r\nX: \x7f\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'GET / HTTP/1.1\r\nX_A: 1\r\nx_b: 2\r\nX-C_: 3\r\n\r\n',
  'GET / HTTP/1.1\r\n' + Array.from({ length: 101 }, (_, i) => `X-H${i}: ${i}\r\n`).join('') + '\r\n',
  'GET / HTTP/1.1\r\n' + Array.from({ length: 100 }, (_, i) => `X-H${i}: ${i}\r\n`).join('') + '\r\n',
  'GET /' + 'a'.repeat(70000) + ' HTTP/1.1\r\n\r\n',
  'GET / HTTP/1.1\r\nX-Big: ' + 'b'.repeat(61440) + '\r\n\r\n',
  '\r\n\r\nGET / HTTP/1.1\r\n\r\n',
  'GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n',
  'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX_T: 1\r\nContent-Length: 3\r\n\r\n',
];

export const RESPONSE_CORPUS: readonly ResponseInput[] = [
  ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', ['GET']],
  ['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial', ['GET']],
  ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!', ['GET']],
  ['HTTP/1.1 200 OK\r\n\r\nuntil close', ['GET']],
  ['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', ['GET']],
  ['HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye', ['GET']],
  [
    'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    ['GET'],
  ],
  ['HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n', ['GET']],
  [
    'HTTP/1.1 404 Not Found Here\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nTrailer-One: 1\r\n\r\n',
    ['GET'],
  ],
  ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', ['HEAD']],
  ['HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', ['GET']],
  ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nbinary', ['GET']],
  ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw until close', ['GET']],
  ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\nabc', ['GET']],
  ['HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n', ['GET']],
  ['HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n', ['GET']],
  ['HTTP/1.1 2000 OK\r\n\r\n', ['GET']],
  ['HTTP/1.1 20 OK\r\n\r\n', ['GET']],
  ['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', ['GET']],
  [
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny',
    ['GET', 'GET'],
  ],
  ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', ['GET', 'GET']],
  ['HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', ['GET']],
  ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', ['GET']],
  ['HTTP/1.1 200 OK\nContent-Length: 1\n\nx', ['GET']],
  ['HTTP/1.1 200 OK\r\nX-Bad: a\r\n b\r\nContent-Length: 0\r\n\r\n', ['GET']],
  [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\nX_U: 2\r\n\r\n',
    ['GET'],
  ],
  ['HTTP/1.1 200 OK\r\nX-Big: ' + 'v'.repeat(82000) + '\r\n\r\n', ['GET']],
].map(([input, methods]) => ({
  input: Buffer.from(input as string, 'latin1'),
  methods: methods as string[],
}));

const NUMBERS = [
  '0',
  '-1',
  '00000',
  '1',
  '9',
  '10',
  '18446744073709551615',
  '18446744073709551616',
  '9007199254740993',
  'ffffffffffffffff',
  'FFFFFFFF',
  '7fffffff',
  '2147483648',
  '4294967296',
  '',
];

/** Replaces [at, at+len) of `bytes` with `insert`. */
function splice(bytes: Buffer, at: number, len: number, insert: Buffer): Buffer {
  return Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at + len)]);
}

/** Start offsets of the lines of `bytes` (after each LF). */
function lineStarts(bytes: Buffer): number[] {
  const starts = [0];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
  return starts;
}

/** One to four byte-level edits: flips, inserts, deletes, duplicated ranges and lines, CR/LF games, case, numbers. */
export function mutate(rng: Rng, input: Buffer): Buffer {
  let bytes = input;
  const edits = rng.range(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(10)) {
      case 0:
        if (at < bytes.length) bytes = splice(bytes, at, 1, Buffer.from([rng.int(256)]));
        break;
      case 1:
        bytes = splice(bytes, at, 0, Buffer.from(rng.pick([...INTERESTING]), 'latin1'));
        break;
      case 2:
        bytes = splice(bytes, at, rng.range(1, 4), Buffer.alloc(0));
        break;
      case 3: {
        const len = rng.range(1, 16);
        bytes = splice(bytes, at, 0, Buffer.from(bytes.subarray(at, at + len)));
        break;
      }
      case 4: {
        const starts = lineStarts(bytes);
        const i = rng.int(starts.length);
        const line = bytes.subarray(starts[i]!, starts[i + 1] ?? bytes.length);
        bytes = rng.chance(0.5)
          ? splice(bytes, starts[i]!, 0, Buffer.from(line))
          : splice(bytes, starts[i]!, line.length, Buffer.alloc(0));
        break;
      }
      case 5: {
        const crlf = bytes.indexOf('\r\n', at);
        if (crlf !== -1)
          bytes = splice(
            bytes,
            crlf,
            2,
            Buffer.from(rng.pick(['\n', '\r', '\n\r', '\r\r\n', '\r\n\r\n', ' \r\n']), 'latin1'),
          );
        break;
      }
      case 6: {
        const len = rng.range(1, 12);
        const range = bytes.subarray(at, at + len).toString('latin1');
        bytes = splice(
          bytes,
          at,
          range.length,
          Buffer.from(rng.chance(0.5) ? range.toUpperCase() : range.toLowerCase(), 'latin1'),
        );
        break;
      }
      case 7: {
        // The digits (or hex digits) around `at` become a boundary value.
        let start = at;
        while (start > 0 && /[0-9a-fA-F]/.test(String.fromCharCode(bytes[start - 1]!))) start--;
        let end = start;
        while (end < bytes.length && /[0-9a-fA-F]/.test(String.fromCharCode(bytes[end]!))) end++;
        bytes = splice(bytes, start, end - start, Buffer.from(rng.pick(NUMBERS), 'latin1'));
        break;
      }
      case 8:
        bytes = splice(bytes, at, 0, Buffer.from(chars(rng, INTERESTING + TCHAR, rng.range(1, 6)), 'latin1'));
        break;
      default:
        if (at < bytes.length) bytes = splice(bytes, at, 1, Buffer.from([bytes[at]! ^ (1 << rng.int(8))]));
    }
  }
  return bytes;
}

/** Ways of reading one input: cut positions (sorted, inside the input). Empty = one read. */
export function splitPlans(rng: Rng, length: number, byteAtATime: boolean): number[][] {
  const plans: number[][] = [[]];
  if (length < 2) return plans;
  for (let p = 0; p < 2; p++) {
    const cuts = new Set<number>();
    const count = rng.range(1, 5);
    for (let i = 0; i < count; i++) cuts.add(rng.range(1, length - 1));
    plans.push([...cuts].sort((a, b) => a - b));
  }
  if (byteAtATime) plans.push(Array.from({ length: length - 1 }, (_, i) => i + 1));
  return plans;
}

/** `input` cut at `cuts` into successive reads (each a copy, as a socket delivers them). */
export function cutInput(input: Buffer, cuts: readonly number[]): Buffer[] {
  const reads: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, input.length]) {
    reads.push(Buffer.from(input.subarray(start, cut)));
    start = cut;
  }
  return reads;
}
