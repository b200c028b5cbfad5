/**
 * Test harness: a uWS listener whose streams are answered by tiny in-test decoders chosen by path.
 *
 *   /echo…      after the request body ends, answers (on a later tick) with a JSON description of
 *               the request head and a SHA-256 of the body;
 *   /sync       answers inside decodeHeaders, while uWS is still in the route handler;
 *   /204        answers 204 with no body;
 *   /resource   answers 200 with a 1234-byte body (HEAD requests must receive none of it);
 *   /short      declares Content-Length: 10 but ends the body after 3 bytes;
 *   /inject     answers with header fields that would split the response if written verbatim;
 *   /hang       never answers (for abort tests);
 *   /pause      disables reading at the first body chunk for PAUSE_MS, then echoes;
 *   /pause-early
 *               disables reading at the first body chunk and answers at once, body still unread;
 *   /stream?size=N&chunked=0|1
 *               sends N bytes of `patternBytes(N)` in 64 KiB chunks, honouring the watermarks.
 */
import { createHash } from 'node:crypto';
import type {
  RequestDecoder,
  RequestHead,
  ResponseEncoder,
  ResponseHead,
  StreamResetReason,
} from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import { startUwsListener, type UwsListener } from '../../src/http/uws/uws-listener';

export const STREAM_CHUNK = 64 * 1024;
export const PAUSE_MS = 200;

/** Deterministic bytes, so both ends can hash them. */
export function patternBytes(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 13)) & 0xff;
  return out;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface EchoReply {
  method: string;
  path: string;
  versionMinor: number;
  keepAlive: boolean;
  contentLength: number;
  chunked: boolean;
  headers: [string, string][];
  remoteAddress: string;
  localAddress: string;
  localPort: number;
  bodyLength: number;
  bodySha256: string;
}

/** What the decoders observed, for assertions. */
export interface ServerLog {
  heads: RequestHead[];
  resets: { path: string; reason: StreamResetReason }[];
  streams: StreamStats[];
  /** /pause: body bytes received while reading was disabled (after the pausing callback). */
  bytesWhilePaused: number[];
}

export interface StreamStats {
  above: number;
  below: number;
  maxBufferedBytes: number;
  /** Bytes handed to the encoder when the first above-high-watermark arrived (-1: never). */
  sentAtFirstAbove: number;
  sent: number;
}

function head(status: number, fields: [string, string][] = []): ResponseHead {
  const headers = new HeaderMap();
  for (const [name, value] of fields) headers.add(name, value);
  return { status, reason: '', headers };
}

function sendBody(
  encoder: ResponseEncoder,
  status: number,
  body: Buffer,
  fields: [string, string][] = [],
): void {
  encoder.encodeHeaders(head(status, fields), body.length, false);
  encoder.encodeData(body, true);
}

class TestDecoder implements RequestDecoder {
  private requestHead: RequestHead | null = null;
  private readonly body: Buffer[] = [];
  private stats: StreamStats | null = null;
  private streamPattern: Buffer | null = null;
  private blocked = false;
  private bodyBytes = 0;
  private paused = false;

  constructor(
    private readonly encoder: ResponseEncoder,
    private readonly log: ServerLog,
  ) {}

  decodeHeaders(requestHead: RequestHead, endStream: boolean): void {
    this.requestHead = requestHead;
    this.log.heads.push(requestHead);
    if (requestHead.path === '/sync') {
      sendBody(this.encoder, 200, Buffer.from('sync reply'));
      return;
    }
    if (endStream) this.onRequestComplete();
  }

  decodeData(data: Buffer, endStream: boolean): void {
    this.body.push(data);
    this.bodyBytes += data.length;
    const path = this.requestHead!.path;
    if (!this.paused && !endStream && (path === '/pause' || path === '/pause-early')) this.pauseReading(path);
    if (endStream) this.onRequestComplete();
  }

  decodeTrailers(): void {}

  onResetStream(reason: StreamResetReason): void {
    this.log.resets.push({ path: this.requestHead?.path ?? '?', reason });
  }

  onAboveWriteBufferHighWatermark(): void {
    const stats = this.stats!;
    if (stats.above === 0) stats.sentAtFirstAbove = stats.sent;
    stats.above++;
    this.blocked = true;
  }

  onBelowWriteBufferLowWatermark(): void {
    this.stats!.below++;
    this.blocked = false;
    this.pump();
  }

  private pauseReading(path: string): void {
    this.paused = true;
    this.encoder.readDisable(true);
    if (path === '/pause-early') {
      sendBody(this.encoder, 200, Buffer.from('early'));
      return;
    }
    const atPause = this.bodyBytes;
    setTimeout(() => {
      this.log.bytesWhilePaused.push(this.bodyBytes - atPause);
      this.encoder.readDisable(false);
    }, PAUSE_MS);
  }

  private onRequestComplete(): void {
    const path = this.requestHead!.path;
    if (path === '/sync' || path === '/hang' || path === '/pause-early') return;
    // Answer on a later tick, as a proxy would, so writes happen outside the uWS handler.
    setImmediate(() => this.respond(path));
  }

  private respond(path: string): void {
    const encoder = this.encoder;
    if (path === '/204') encoder.encodeHeaders(head(204, [['x-kind', 'empty']]), -1, true);
    else if (path === '/resource') sendBody(encoder, 200, Buffer.alloc(1234, 0x61), [['x-kind', 'resource']]);
    else if (path === '/inject')
      sendBody(encoder, 200, Buffer.from('ok'), [
        ['x-good', 'kept'],
        ['x-bad', 'v\r\nInjected: yes'],
        ['bad name', 'v'],
        ['x-bad-lf', 'v\nInjected-Lf: yes'],
        ['content-length', '999'],
        ['transfer-encoding', 'chunked'],
      ]);
    else if (path === '/short') {
      encoder.encodeHeaders(head(200), 10, false);
      encoder.encodeData(Buffer.from('abc'), true);
    } else if (path.startsWith('/stream')) this.startStream(new URL(path, 'http://x').searchParams);
    else
      sendBody(encoder, 200, Buffer.from(JSON.stringify(this.describe())), [
        ['content-type', 'application/json'],
      ]);
  }

  private describe(): EchoReply {
    const h = this.requestHead!;
    const body = Buffer.concat(this.body);
    return {
      method: h.method,
      path: h.path,
      versionMinor: h.protocol === 'HTTP/1.0' ? 0 : 1,
      keepAlive: h.keepAlive,
      contentLength: h.contentLength,
      chunked: h.chunked,
      headers: h.headers.names.map((name, i) => [name, h.headers.values[i]!]),
      remoteAddress: this.encoder.remoteAddress,
      localAddress: this.encoder.localAddress,
      localPort: this.encoder.localPort,
      bodyLength: body.length,
      bodySha256: sha256(body),
    };
  }

  private startStream(params: URLSearchParams): void {
    const size = Number(params.get('size'));
    this.streamPattern = patternBytes(size);
    this.stats = { above: 0, below: 0, maxBufferedBytes: 0, sentAtFirstAbove: -1, sent: 0 };
    this.log.streams.push(this.stats);
    this.encoder.encodeHeaders(head(200), params.get('chunked') === '1' ? -1 : size, false);
    this.pump();
  }

  /** Sends chunks until the encoder reports backpressure or the body is done. */
  private pump(): void {
    const stats = this.stats!;
    const pattern = this.streamPattern!;
    while (!this.blocked && stats.sent < pattern.length) {
      const end = Math.min(stats.sent + STREAM_CHUNK, pattern.length);
      const chunk = pattern.subarray(stats.sent, end);
      stats.sent = end;
      this.encoder.encodeData(chunk, end === pattern.length);
      stats.maxBufferedBytes = Math.max(stats.maxBufferedBytes, this.encoder.bufferedBytes);
    }
  }
}

export interface EchoServer {
  port: number;
  log: ServerLog;
  listener: UwsListener;
}

export async function startEchoServer(): Promise<EchoServer> {
  const log: ServerLog = { heads: [], resets: [], streams: [], bytesWhilePaused: [] };
  const listener = await startUwsListener(
    { host: '127.0.0.1', port: 0 },
    { newStream: (encoder) => new TestDecoder(encoder, log) },
  );
  return { port: listener.port, log, listener };
}

/** Polls `condition` every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
