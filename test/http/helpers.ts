/** Shared test fixtures for the HTTP/1 codecs: real sockets on 127.0.0.1, port 0, bounded waits. */
import * as net from 'node:net';
import type {
  RequestDecoder,
  RequestHead,
  ResponseEncoder,
  ServerConnectionCallbacks,
  StreamResetReason,
} from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import {
  createServerConnection,
  DEFAULT_SERVER_CODEC_OPTIONS,
  type ServerCodecOptions,
} from '../../src/http/server-connection';

/** What a test server does once a request is complete (or, with `onHeaders`, as soon as headers arrive). */
export interface App {
  onHeaders?(stream: RecordedStream): void;
  onComplete?(stream: RecordedStream): void;
}

/** A `RequestDecoder` that records everything it is told. */
export class RecordedStream implements RequestDecoder {
  head: RequestHead | null = null;
  body: Buffer[] = [];
  trailers: HeaderMap | null = null;
  ended = false;
  reset: StreamResetReason | null = null;
  aboveWatermark = 0;
  belowWatermark = 0;
  /** Called on watermark changes (flow-control tests). */
  onWatermark: (() => void) | null = null;

  constructor(
    readonly encoder: ResponseEncoder,
    private readonly app: App,
  ) {}

  get bodyText(): string {
    return Buffer.concat(this.body).toString('latin1');
  }

  decodeHeaders(head: RequestHead, endStream: boolean): void {
    this.head = head;
    this.app.onHeaders?.(this);
    if (endStream) this.end();
  }
  decodeData(data: Buffer, endStream: boolean): void {
    if (data.length > 0) this.body.push(Buffer.from(data));
    if (endStream) this.end();
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.trailers = trailers;
    this.end();
  }
  onResetStream(reason: StreamResetReason): void {
    this.reset = reason;
  }
  onAboveWriteBufferHighWatermark(): void {
    this.aboveWatermark++;
    this.onWatermark?.();
  }
  onBelowWriteBufferLowWatermark(): void {
    this.belowWatermark++;
    this.onWatermark?.();
  }

  /** Answers with a text body and a known length. */
  respond(status: number, body: string, headers: [string, string][] = []): void {
    const map = new HeaderMap();
    for (const [name, value] of headers) map.add(name, value);
    const data = Buffer.from(body, 'latin1');
    this.encoder.encodeHeaders({ status, reason: '', headers: map }, data.length, data.length === 0);
    if (data.length > 0) this.encoder.encodeData(data, true);
  }

  private end(): void {
    this.ended = true;
    this.app.onComplete?.(this);
  }
}

export interface TestServer {
  port: number;
  streams: RecordedStream[];
  connections: number;
  closedConnections: number;
  /** `onProtocolError` calls: [status, bodyBytes]. */
  protocolErrors: [number, number][];
  /** `onRequestBegin` calls. */
  requestsBegun: number;
  /** The codec connections, to call shutdownNotice() etc. */
  codecs: ReturnType<typeof createServerConnection>[];
  close(): Promise<void>;
}

/** A net server whose connections run the server codec with `app`. */
export async function startServer(app: App, options: Partial<ServerCodecOptions> = {}): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const state: TestServer = {
    port: 0,
    streams: [],
    connections: 0,
    closedConnections: 0,
    protocolErrors: [],
    requestsBegun: 0,
    codecs: [],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const callbacks: ServerConnectionCallbacks = {
    newStream(encoder: ResponseEncoder): RequestDecoder {
      const stream = new RecordedStream(encoder, app);
      state.streams.push(stream);
      return stream;
    },
    onConnectionClose(): void {
      state.closedConnections++;
    },
    onProtocolError(status: number, bodyBytes: number): void {
      state.protocolErrors.push([status, bodyBytes]);
    },
    onRequestBegin(): void {
      state.requestsBegun++;
    },
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    state.connections++;
    state.codecs.push(
      createServerConnection(socket, callbacks, { ...DEFAULT_SERVER_CODEC_OPTIONS, ...options }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

export interface RawResult {
  text: string;
  /** The server closed the connection before the deadline. */
  closed: boolean;
}

/**
 * Writes `chunks` (each in its own write, `gapMs` apart) to `port` and collects what comes back
 * until the server closes or `untilText` has been seen, or `timeoutMs` passes.
 */
export function rawExchange(
  port: number,
  chunks: (string | Buffer)[],
  { timeoutMs = 1000, gapMs = 0, untilText = '' } = {},
): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (data) => {
      text += data.toString('latin1');
      if (untilText !== '' && text.includes(untilText)) finish(false);
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await delay(gapMs);
      }
    });
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 5 ms for at most `timeoutMs`; fails the test if it never holds. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** The status lines found in a raw HTTP/1.1 response stream, in order. */
export function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 \d{3} [^\r]*/g)].map((m) => m[0]);
}
