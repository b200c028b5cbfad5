/**
 * A closed-loop HTTP/1.1 load over a fixed set of keep-alive connections that accounts for every
 * request, to tell a drain that answers everything from one that drops requests already on the
 * wire. Each connection writes its next request as soon as the previous response is complete (in
 * the same read callback, as wrk does), never pipelines, never reconnects, and obeys
 * `Connection: close`. A request is:
 *  - answered: its whole response arrived;
 *  - lost: it was written, and the connection then closed (FIN or reset) without its response.
 * A connection the server closes while no request is outstanding counts in `closedIdle`: the
 * client saw the FIN before it wrote anything, so nothing was lost.
 */
import * as net from 'node:net';

export interface LoadResult {
  sent: number;
  answered: number;
  /** Answers that carried `Connection: close`. */
  closeAnswers: number;
  lost: number;
  closedIdle: number;
  /** Responses that were not `200` with a Content-Length (the load cannot frame them). */
  unexpected: string[];
}

export interface LoadOptions {
  connections: number;
  path?: string;
}

export class KeepAliveLoad {
  readonly result: LoadResult = {
    sent: 0,
    answered: 0,
    closeAnswers: 0,
    lost: 0,
    closedIdle: 0,
    unexpected: [],
  };
  private readonly sockets: LoadConnection[] = [];
  private open = 0;
  private allClosed!: () => void;
  /** Resolves once the server has closed every connection. */
  readonly closed = new Promise<void>((resolve) => (this.allClosed = resolve));

  constructor(
    private readonly port: number,
    private readonly options: LoadOptions,
  ) {}

  /** Connects every connection and starts sending; resolves once all are connected. */
  async start(): Promise<void> {
    const request = Buffer.from(`GET ${this.options.path ?? '/'} HTTP/1.1\r\nHost: load\r\n\r\n`, 'latin1');
    const connected: Promise<void>[] = [];
    for (let i = 0; i < this.options.connections; i++) {
      const c = new LoadConnection(this.port, request, this.result, () => {
        if (--this.open === 0) this.allClosed();
      });
      this.open++;
      this.sockets.push(c);
      connected.push(c.connected);
    }
    await Promise.all(connected);
  }

  /** Closes what is still open (end of a test, or a failed one). */
  destroy(): void {
    for (const c of this.sockets) c.destroy();
  }
}

class LoadConnection {
  readonly connected: Promise<void>;
  private readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private outstanding = false;
  private closing = false;
  private finished = false;

  constructor(
    port: number,
    private readonly request: Buffer,
    private readonly result: LoadResult,
    private readonly onFinished: () => void,
  ) {
    this.socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.send();
        resolve();
      });
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.finish());
    this.socket.on('close', () => this.finish());
    this.socket.on('error', () => this.finish());
  }

  destroy(): void {
    this.socket.destroy();
  }

  private send(): void {
    this.outstanding = true;
    this.result.sent++;
    this.socket.write(this.request);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headEnd = this.buffer.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.buffer.subarray(0, headEnd).toString('latin1');
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!head.startsWith('HTTP/1.1 200 ') || length === null) {
        this.result.unexpected.push(head);
        this.socket.destroy();
        return;
      }
      const total = headEnd + 4 + Number(length[1]);
      if (this.buffer.length < total) return;
      this.buffer = this.buffer.subarray(total);
      this.outstanding = false;
      this.result.answered++;
      if (/\r\nconnection: *close/i.test(head)) {
        this.result.closeAnswers++;
        this.closing = true;
        this.socket.end();
        return;
      }
      if (!this.closing) this.send();
    }
  }

  /** The server closed (or reset) the connection: account for the request it left unanswered. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.outstanding) this.result.lost++;
    else if (!this.closing) this.result.closedIdle++;
    this.socket.destroy();
    this.onFinished();
  }
}
