/**
 * The reference side of the HTTP/1 differential: Legate's real JS codecs (server-connection.ts and
 * client-connection.ts, on the llhttp-wasm wrapper) driven over a fake `net.Socket`, with recording
 * decoders, reporting what they observe in the form of ./events.ts.
 *
 * The owners behave as h1ParseForTest's C test owners do (native-bindings/src/engine/
 * h1_parser_napi.c): requests are answered with a 200 as soon as they are complete (after the
 * read that completed them, so the codec's pause and resume run), which refuses upgrades (a
 * bodiless upgrade, whose stream the JS codec ends only after its response, once its head is in:
 * the C parser ends it there);
 * responses come to requests made one per `methods` entry while the connection stays reusable.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import { createClientConnection } from '../../../src/http/client-connection';
import {
  tunnelMayFollow,
  type RequestDecoder,
  type RequestHead,
  type ResponseDecoder,
  type ResponseEncoder,
  type ResponseHead,
  type StreamResetReason,
} from '../../../src/http/codec';
import { HeaderMap } from '../../../src/http/header-map';
import { createServerConnection } from '../../../src/http/server-connection';
import { EventLog, type H1Events, type RequestOptions, type ResponseOptions } from './events';

/**
 * Content-Length is a JS number on the codec's side and a saturating int64 on the native side:
 * above 2^63 both only wait for a body no peer can send, so the reported value is capped alike.
 */
const CONTENT_LENGTH_CAP = 2 ** 63;

/** The part of `net.Socket` the codecs use; 'close' is emitted by the driver, after each step. */
class FakeSocket extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40000;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 8080;
  readonly writableLength = 0;
  /** end() or destroy() was called: no more data is delivered. */
  closing = false;
  onClosing: () => void = () => {};
  onWrite: (text: string) => void = () => {};

  write(chunk: string | Buffer, encoding?: BufferEncoding): boolean {
    this.onWrite(typeof chunk === 'string' ? chunk : chunk.toString(encoding ?? 'latin1'));
    return true;
  }
  end(): this {
    this.markClosing();
    return this;
  }
  destroy(): this {
    this.markClosing();
    return this;
  }
  cork(): void {}
  uncork(): void {}
  private paused = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  isPaused(): boolean {
    return this.paused;
  }
  setNoDelay(): this {
    return this;
  }
  private markClosing(): void {
    if (this.closing) return;
    this.closing = true;
    this.onClosing();
  }
}

function asSocket(socket: FakeSocket): net.Socket {
  return socket as unknown as net.Socket;
}

class RecordingRequest implements RequestDecoder {
  ended = false;
  answered = false;
  /** A bodiless upgrade: answered once its head is in (see the file comment). */
  answerAtHead = false;

  constructor(
    readonly log: EventLog,
    readonly encoder: ResponseEncoder,
  ) {}

  decodeHeaders(head: RequestHead, endStream: boolean): void {
    this.answerAtHead = tunnelMayFollow(head);
    this.log.push(
      'head',
      head.method,
      head.path,
      head.protocol === 'HTTP/1.0' ? 0 : 1,
      head.keepAlive,
      Math.min(head.contentLength, CONTENT_LENGTH_CAP),
      head.chunked,
      head.upgrade,
      [...head.headers.names],
      [...head.headers.values],
    );
    if (endStream) this.end();
  }
  decodeData(data: Buffer, endStream: boolean): void {
    this.log.appendBody(data.toString('latin1'));
    if (endStream) this.end();
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.log.push('trailers', [...trailers.names], [...trailers.values]);
    this.end();
  }
  onResetStream(reason: StreamResetReason): void {
    this.log.push('reset', reason);
  }
  onAboveWriteBufferHighWatermark(): void {}
  onBelowWriteBufferLowWatermark(): void {}

  private end(): void {
    this.ended = true;
    this.log.push('end');
  }
}

const LOCAL_REPLY_STATUS = /^HTTP\/1\.1 (\d{3}) /;

/** Feeds `chunks` to a server connection (Legate's downstream codec) and returns what it observed. */
export function jsRequestEvents(chunks: readonly Buffer[], options: RequestOptions): H1Events {
  const log = new EventLog();
  const socket = new FakeSocket();
  const streams: RecordingRequest[] = [];
  socket.onClosing = () => log.push('close');
  // The test app only ever answers 200: any other status line is the codec's local reply.
  socket.onWrite = (text) => {
    const status = LOCAL_REPLY_STATUS.exec(text);
    if (status !== null && status[1] !== '200') log.push('reply', Number(status[1]));
  };
  createServerConnection(
    asSocket(socket),
    {
      onRequestBegin: () => log.push('begin'),
      newStream(encoder) {
        const stream = new RecordingRequest(log, encoder);
        streams.push(stream);
        return stream;
      },
      onConnectionClose: () => {},
    },
    { ...options },
  );
  for (const chunk of chunks) {
    if (socket.closing) break;
    socket.emit('data', chunk);
    // Answer each complete request; the codec then parses what it kept (maybe completing another).
    for (
      let stream = streams.at(-1);
      stream !== undefined && (stream.ended || stream.answerAtHead) && !stream.answered && !socket.closing;
    ) {
      stream.answered = true;
      log.flush();
      stream.encoder.encodeHeaders({ status: 200, reason: '', headers: new HeaderMap() }, 0, true);
      stream = streams.at(-1);
    }
  }
  log.stop();
  socket.emit('close');
  return log.events;
}

class RecordingResponse implements ResponseDecoder {
  constructor(readonly log: EventLog) {}

  decode1xxHeaders(head: ResponseHead): void {
    this.log.push('1xx', head.status, head.reason, [...head.headers.names], [...head.headers.values]);
  }
  decodeHeaders(head: ResponseHead, endStream: boolean): void {
    this.log.push('head', head.status, head.reason, [...head.headers.names], [...head.headers.values]);
    if (endStream) this.log.push('end');
  }
  decodeData(data: Buffer, endStream: boolean): void {
    this.log.appendBody(data.toString('latin1'));
    if (endStream) this.log.push('end');
  }
  decodeTrailers(trailers: HeaderMap): void {
    this.log.push('trailers', [...trailers.names], [...trailers.values]);
    this.log.push('end');
  }
  onResetStream(reason: StreamResetReason): void {
    this.log.push('reset', reason);
  }
  onAboveWriteBufferHighWatermark(): void {}
  onBelowWriteBufferLowWatermark(): void {}
}

/** Feeds `chunks` to a client connection (Legate's upstream codec) and returns what it observed. */
export function jsResponseEvents(chunks: readonly Buffer[], options: ResponseOptions): H1Events {
  const log = new EventLog();
  const socket = new FakeSocket();
  let closeEmitted = false;
  let next = 0;
  const connection = createClientConnection(asSocket(socket), {
    onStreamComplete(reusable: boolean): void {
      log.push('complete', reusable);
      if (reusable && next < options.methods.length) startRequest();
    },
    onClose(): void {
      log.push('close');
    },
  });
  function startRequest(): void {
    const method = options.methods[next++]!;
    const encoder = connection.newStream(new RecordingResponse(log));
    log.push('request', method);
    encoder.encodeHeaders(
      {
        method,
        path: '/',
        protocol: 'HTTP/1.1',
        headers: new HeaderMap(),
        keepAlive: true,
        contentLength: -1,
        chunked: false,
        upgrade: false,
      },
      -1,
      true,
    );
  }
  // A real socket emits 'close' after the call that destroyed it returns.
  function afterStep(): void {
    if (!socket.closing || closeEmitted) return;
    closeEmitted = true;
    socket.emit('close');
  }
  startRequest();
  for (const chunk of chunks) {
    if (socket.closing) break;
    socket.emit('data', chunk);
    afterStep();
  }
  if (options.eof && !socket.closing) {
    socket.emit('end');
    afterStep();
  }
  log.stop();
  if (!closeEmitted) socket.emit('close');
  return log.events;
}
