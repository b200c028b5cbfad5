/**
 * HTTP/2 test clients: node:http2 sessions (prior knowledge or TLS with ALPN) with a promise per
 * request, and a raw-frame writer for what well-behaved clients never send (rapid reset).
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | null;
}

/**
 * Opens a session to 127.0.0.1:port (h2c prior knowledge, or TLS with `tls` options), resolved once
 * the server's SETTINGS arrived (`remoteSettings` holds Node's defaults until then).
 */
export function h2Connect(
  port: number,
  tls?: http2.SecureClientSessionOptions,
): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(tls ? `https://127.0.0.1:${port}` : `http://127.0.0.1:${port}`, tls);
    session.once('remoteSettings', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** One request on `session`; the body is written in `chunkSize` pieces (all at once by default). */
export function h2Request(
  session: http2.ClientHttp2Session,
  opts: {
    method?: string;
    path?: string;
    headers?: http2.OutgoingHttpHeaders;
    body?: Buffer;
    chunkSize?: number;
  } = {},
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = session.request(
      {
        ':method': opts.method ?? 'GET',
        ':path': opts.path ?? '/',
        ...opts.headers,
      },
      { endStream: opts.body === undefined },
    );
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (status !== 0) resolve({ status, headers, body: Buffer.concat(chunks), trailers });
    });
    req.on('error', reject);
    // Reset before any response: rejects with the RST_STREAM code (`RST_STREAM 1` for PROTOCOL_ERROR).
    req.on('close', () => {
      if (status === 0) reject(Object.assign(new Error('reset'), { code: `RST_STREAM ${req.rstCode}` }));
    });
    const body = opts.body;
    if (body === undefined) return;
    const size = opts.chunkSize ?? body.length;
    let offset = 0;
    const pump = (): void => {
      while (offset < body.length) {
        const piece = body.subarray(offset, offset + size);
        offset += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** An HTTP/2 frame: 9-byte header and payload. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId, 5);
  payload.copy(b, 9);
  return b;
}

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** HPACK: GET, http, /, and `:authority: a` as a literal without indexing (no table state). */
const GET_HEADERS = Buffer.from([0x82, 0x86, 0x84, 0x01, 0x01, 0x61]);
const FRAME_HEADERS = 1;
const FRAME_RST_STREAM = 3;
const FRAME_SETTINGS = 4;
const FRAME_GOAWAY = 7;
const END_STREAM_END_HEADERS = 0x5;
const CANCEL = 8;

export interface RawOutcome {
  /** GOAWAY frames received: [last stream id, error code]. */
  goaways: [number, number][];
  closed: boolean;
}

/**
 * Rapid reset (CVE-2023-44487): opens `streams` GET streams and cancels each at once, all in one
 * write, then waits up to `waitMs` for the server to close the connection.
 */
export function rapidReset(port: number, streams: number, waitMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ goaways: goawaysIn(received), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('connect', () => {
      const parts = [PREFACE, frame(FRAME_SETTINGS, 0, 0)];
      const code = Buffer.alloc(4);
      code.writeUInt32BE(CANCEL);
      for (let i = 0; i < streams; i++) {
        const id = 1 + 2 * i;
        parts.push(
          frame(FRAME_HEADERS, END_STREAM_END_HEADERS, id, GET_HEADERS),
          frame(FRAME_RST_STREAM, 0, id, code),
        );
      }
      socket.write(Buffer.concat(parts));
    });
    socket.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
  });
}

function goawaysIn(bytes: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let o = 0; o + 9 <= bytes.length;) {
    const length = bytes.readUIntBE(o, 3);
    if (bytes[o + 3] === FRAME_GOAWAY && o + 17 <= bytes.length)
      out.push([bytes.readUInt32BE(o + 9) & 0x7fffffff, bytes.readUInt32BE(o + 13)]);
    o += 9 + length;
  }
  return out;
}
