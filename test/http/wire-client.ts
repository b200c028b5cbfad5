/**
 * A byte-level HTTP/1.1 client for codec tests: writes exactly the bytes given (in the pieces
 * given) and parses what comes back by the response's own framing (Content-Length, chunked with
 * trailers, close-delimited, none for HEAD/1xx/204/304), so a test sees how the codec framed it.
 */
import * as net from 'node:net';

export interface WireResponse {
  versionMinor: number;
  status: number;
  reason: string;
  /** Header fields in order, names lower-cased. */
  headers: [string, string][];
  body: Buffer;
  trailers: [string, string][];
  framing: 'content-length' | 'chunked' | 'close' | 'none';
}

export function header(r: WireResponse, name: string): string | undefined {
  return r.headers.find(([n]) => n === name)?.[1];
}

type Parsed = { response: WireResponse; consumed: number } | null;

function fields(lines: string[]): [string, string][] {
  return lines.map((line) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed header line ${JSON.stringify(line)}`);
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
}

/** One response from the start of `buf` if complete (`closed`: the peer has closed), else null. */
export function parseResponse(buf: Buffer, method: string, closed: boolean): Parsed {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return null;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (m === null) throw new Error(`malformed status line ${JSON.stringify(lines[0])}`);
  const status = Number(m[2]);
  const headers = fields(lines.slice(1));
  const base = {
    versionMinor: Number(m[1]),
    status,
    reason: m[3] ?? '',
    headers,
    trailers: [] as [string, string][],
  };
  let pos = headEnd + 4;
  const get = (name: string): string | undefined => headers.find(([n]) => n === name)?.[1];
  if (status < 200 || status === 204 || status === 304 || method === 'HEAD') {
    return { response: { ...base, body: Buffer.alloc(0), framing: 'none' }, consumed: pos };
  }
  const te = get('transfer-encoding');
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') throw new Error(`unexpected transfer-encoding ${te}`);
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd === -1) return null;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1').split(';')[0]!, 16);
      if (!Number.isInteger(size) || size < 0) throw new Error('malformed chunk size');
      pos = lineEnd + 2;
      if (size === 0) {
        const end = buf.indexOf('\r\n\r\n', pos - 2);
        if (end === -1) return null;
        const trailerText = buf.subarray(pos, end).toString('latin1');
        const trailers = trailerText === '' ? [] : fields(trailerText.split('\r\n'));
        return {
          response: { ...base, trailers, body: Buffer.concat(parts), framing: 'chunked' },
          consumed: end + 4,
        };
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      if (buf.subarray(pos + size, pos + size + 2).toString('latin1') !== '\r\n')
        throw new Error('chunk not followed by CRLF');
      pos += size + 2;
    }
  }
  const cl = get('content-length');
  if (cl !== undefined) {
    const n = Number(cl);
    if (buf.length < pos + n) return null;
    return {
      response: { ...base, body: Buffer.from(buf.subarray(pos, pos + n)), framing: 'content-length' },
      consumed: pos + n,
    };
  }
  if (!closed) return null;
  return {
    response: { ...base, body: Buffer.from(buf.subarray(pos)), framing: 'close' },
    consumed: buf.length,
  };
}

export class WireClient {
  private buf = Buffer.alloc(0);
  /** The server closed (FIN or RST). */
  closed = false;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static connect(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new WireClient(socket));
      });
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** Bytes received and not yet consumed by `response()`. */
  get unread(): Buffer {
    return this.buf;
  }

  /** Waits until `condition` holds (checked on every arrival and on close), or fails after `timeoutMs`. */
  async until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = null;
        reject(
          new Error(
            `timed out waiting for ${what}; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`,
          ),
        );
      }, timeoutMs);
      this.wake = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  /** The next complete response (to a request made with `method`), removed from the buffer. */
  async response(method = 'GET', timeoutMs = 3000): Promise<WireResponse> {
    let parsed: Parsed = null;
    await this.until(
      () =>
        (parsed = parseResponse(this.buf, method, this.closed)) !== null ||
        (this.closed && this.buf.length === 0),
      `a response to ${method}`,
      timeoutMs,
    );
    if (parsed === null) throw new Error('the server closed without a response');
    const p = parsed as { response: WireResponse; consumed: number };
    this.buf = this.buf.subarray(p.consumed);
    return p.response;
  }

  /** Resolves true if the server closes within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    try {
      await this.until(() => this.closed, 'the server to close', ms);
      return true;
    } catch {
      return false;
    }
  }

  /** Whatever arrives within `ms` (nothing consumed). */
  async quietFor(ms: number): Promise<Buffer> {
    await new Promise((r) => setTimeout(r, ms));
    return this.buf;
  }

  close(): void {
    this.socket.destroy();
  }
}
