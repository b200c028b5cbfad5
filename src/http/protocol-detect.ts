/**
 * Envoy's AUTO codec on a plaintext connection: the client's first bytes decide. The HTTP/2
 * connection preface (RFC 9113 §3.4) means HTTP/2 with prior knowledge; anything that departs from
 * it means HTTP/1. Until then the connection is served by this stand-in, which owns no request;
 * once decided, the bytes read so far go back into the socket for the chosen codec.
 */
import type * as net from 'node:net';
import type { ServerConnection } from './codec';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Builds the codec for what the client speaks; the socket holds every byte it sent so far. */
export type ChooseCodec = (http2: boolean) => ServerConnection;

class DetectingServerConnection implements ServerConnection {
  private chosen: ServerConnection | null = null;
  private received: Buffer = Buffer.alloc(0);
  private draining = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly choose: ChooseCodec,
    private readonly onCloseUndecided: () => void,
  ) {
    socket.on('data', this.onData);
    socket.once('close', this.onClose);
    socket.on('error', ignoreError);
    // A listener filter may have stopped reading to inspect the first bytes.
    if (socket.isPaused()) socket.resume();
  }

  get activeStreams(): number {
    return this.chosen?.activeStreams ?? 0;
  }

  shutdownNotice(): void {
    this.draining = true;
    this.chosen?.shutdownNotice();
  }

  goAway(): void {
    if (this.chosen !== null) this.chosen.goAway();
    else this.socket.destroy();
  }

  close(): void {
    if (this.chosen !== null) this.chosen.close();
    else this.socket.destroy();
  }

  replyToPartialRequest(status: number, body: string): boolean {
    return this.chosen?.replyToPartialRequest(status, body) ?? false;
  }

  private readonly onData = (chunk: Buffer): void => {
    const received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const n = Math.min(received.length, PREFACE.length);
    const http2 = received.compare(PREFACE, 0, n, 0, n) === 0;
    if (http2 && n < PREFACE.length) {
      this.received = received;
      return;
    }
    const socket = this.socket;
    socket.removeListener('data', this.onData);
    socket.removeListener('close', this.onClose);
    socket.pause();
    socket.unshift(received);
    // The chosen codec reads what is buffered: the HTTP/1 one resumes the socket, the HTTP/2 session
    // takes the buffer and then reads the socket's handle itself.
    this.chosen = this.choose(http2);
    if (this.draining) this.chosen.shutdownNotice();
  };

  private readonly onClose = (): void => {
    this.onCloseUndecided();
  };
}

function ignoreError(): void {}

/** Serves `socket` with the codec its first bytes call for (`choose`); `onCloseUndecided` if none came. */
export function detectServerProtocol(
  socket: net.Socket,
  choose: ChooseCodec,
  onCloseUndecided: () => void,
): ServerConnection {
  return new DetectingServerConnection(socket, choose, onCloseUndecided);
}
