/**
 * The messages the parser benchmarks parse (llhttp-parse.ts, h1-native-parse.ts), and Legate's
 * llhttp wasm wrapper set up to parse them with a handler that only counts.
 */
import { HttpParser, ParserError, ParserType, type ParserHandler } from '../../src/http/llhttp';

export const REQUEST = Buffer.from(
  'GET /api/v1/items?id=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: wrk/4.2\r\nAccept: */*\r\n' +
    'Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nX-Request-Id: 3f2a9c1e\r\n\r\n',
  'latin1',
);
export const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: Thu, 26 Nov 2026 00:00:00 GMT\r\n' +
    'Server: upstream\r\n\r\nHello, World!',
  'latin1',
);
let manyHeaders = 'GET /many HTTP/1.1\r\nHost: example.com\r\n';
for (let i = 1; i < 20; i++) manyHeaders += `X-Header-${i}: value-number-${i}\r\n`;
export const REQUEST_20_HEADERS = Buffer.from(manyHeaders + '\r\n', 'latin1');

class CountingHandler implements ParserHandler {
  headers = 0;
  bodyBytes = 0;
  messages = 0;
  lastName = '';
  onMessageBegin(): number {
    return 0;
  }
  onHeader(name: string, _value: string): number {
    this.headers++;
    this.lastName = name;
    return 0;
  }
  onHeadersComplete(): number {
    return 0;
  }
  onBody(data: Buffer): number {
    this.bodyBytes += data.length;
    return 0;
  }
  onTrailer(): number {
    return 0;
  }
  onMessageComplete(): number {
    this.messages++;
    return 0;
  }
}

export const legateHandler = new CountingHandler();

export function legateParser(type: ParserType): HttpParser {
  return new HttpParser(type, legateHandler, 64 * 1024);
}

export function legateParse(parser: HttpParser, data: Buffer): void {
  if (parser.execute(data) !== ParserError.OK) throw new Error(parser.errorReason);
}
