/**
 * A byte-level downstream client that sends a sequence of requests as one of three kinds of peer,
 * and reads the responses with the independent parser of `http1-wire.ts`:
 *
 * - `fast`: writes a request, reads its response as it arrives, then sends the next one;
 * - `slow`: writes each request in its pieces with a gap between them, then stops reading for a
 *   while (the proxy's writes back up past its high-water mark) before it reads the response;
 * - `pipeline`: writes every request at once, then reads the responses in order.
 *
 * Requests stay on one connection until the proxy ends it (`connection: close`, a close-delimited
 * body) or the client must leave it (a withheld `Expect: 100-continue` body); then the next
 * request opens a new one, as a real client does. Every wait is bounded by `boundMs`: a request
 * slower than that is recorded as a hang and ends the sequence, so a hang fails fast.
 */
import * as net from 'node:net';
import { readResponse, readResponseHead, header, type WireResponse } from './http1-wire';

export type PeerMode = 'fast' | 'slow' | 'pipeline';

export interface ClientRequest {
  /** The request method (a HEAD response has no body). */
  method: string;
  /** The request bytes, in the pieces a slow peer writes separately (the first holds the head). */
  pieces: Buffer[];
  /**
   * The head asks for `Expect: 100-continue`: the rest is written after 100 Continue (or after
   * `CONTINUE_WAIT_MS` without an answer, as curl does), and withheld if a final response comes first.
   */
  expectContinue?: boolean;
}

export interface ExchangeResult {
  response?: WireResponse;
  /** Why there is no response: a hang (`hang: …`), a close, or bytes the parser refused. */
  error?: string;
  /** From the request's first write (or, pipelining, the previous response) to the response's end. */
  ms: number;
  /** 1-based connection the request went on. */
  connection: number;
  /** The body was withheld after a final response to `Expect: 100-continue`. */
  bodyWithheld: boolean;
}

export interface SequenceOptions {
  mode: PeerMode;
  /** A request that takes longer fails the sequence. */
  boundMs: number;
  /** slow: how long reading stays paused after each request. */
  pauseMs?: number;
  /** slow: gap between the pieces of a request. */
  pieceGapMs?: number;
}

export interface SequenceResult {
  /** One per request; requests never sent after a failure are absent. */
  results: ExchangeResult[];
  /** Connections opened. */
  connections: number;
}

/** How long a client waits for 100 Continue before it sends the body anyway (curl's default is 1 s). */
export const CONTINUE_WAIT_MS = 1000;

/** One client connection and everything it has received. */
class Connection {
  readonly socket: net.Socket;
  received: Buffer = Buffer.alloc(0);
  /** Offset of the first byte not yet consumed by a complete response. */
  offset = 0;
  ended = false;
  private wake: (() => void) | null = null;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (data: Buffer) => {
      this.received = Buffer.concat([this.received, data]);
      this.wake?.();
    });
    this.socket.on('end', () => this.markEnded());
    this.socket.on('close', () => this.markEnded());
    this.socket.on('error', () => this.markEnded());
  }

  private markEnded(): void {
    this.ended = true;
    this.wake?.();
  }

  write(data: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /**
   * Re-runs `step` as bytes arrive until it returns non-null; resolves with that, or with an error
   * text on close or at `deadline`.
   */
  until<T>(deadline: number, step: () => T | null, what: string): Promise<T | string> {
    return new Promise((resolve) => {
      const start = Date.now();
      const timer = setTimeout(
        () => finish(`hang: no ${what} after ${Date.now() - start} ms`),
        Math.max(0, deadline - start),
      );
      const finish = (r: T | string): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve(r);
      };
      const attempt = (): void => {
        const r = step();
        if (r !== null) finish(r);
        else if (this.ended) finish(`connection closed before the ${what}`);
      };
      this.wake = attempt;
      attempt();
    });
  }

  /** The next complete response to a `method` request, or an error text. */
  async response(method: string, deadline: number): Promise<WireResponse | string> {
    return this.until(
      deadline,
      () => {
        const parsed = readResponse(this.received, this.offset, method, this.ended);
        if (parsed.kind === 'incomplete') return null;
        if (parsed.kind === 'error') return `unparseable response: ${parsed.reason}`;
        // Keep only what follows (the next response), so long sequences do not copy old bytes.
        const response = copyResponse(parsed.value);
        this.received = this.received.subarray(this.offset + response.length);
        this.offset = 0;
        return response;
      },
      'complete response',
    );
  }

  /** Waits for the first response head after `offset`: true if it is 100 Continue, false if final. */
  async continueOrFinal(deadline: number): Promise<boolean | string> {
    const r = await this.until(
      deadline,
      () => {
        const parsed = readResponseHead(this.received, this.offset);
        if (parsed.kind === 'incomplete') return null;
        if (parsed.kind === 'error') return `unparseable response: ${parsed.reason}`;
        return parsed.value.status === 100 ? 'continue' : 'final';
      },
      'answer to Expect: 100-continue',
    );
    if (r === 'continue') return true;
    if (r === 'final') return false;
    return r.startsWith('hang') ? true : r;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A response whose body no longer shares memory with the receive buffer. */
function copyResponse(r: WireResponse): WireResponse {
  return { ...r, body: { ...r.body, data: Buffer.from(r.body.data) } };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The server will not read another request on this connection after `response`. */
function endsConnection(response: WireResponse): boolean {
  const connection = header(response.head.headers, 'connection') ?? '';
  return (
    response.framing === 'close' ||
    /(^|,)\s*close\s*(,|$)/i.test(connection) ||
    (response.head.versionMinor === 0 && !/keep-alive/i.test(connection))
  );
}

/** Sends `requests` to 127.0.0.1:`port` as the given kind of peer; see the module comment. */
export async function runSequence(
  port: number,
  requests: ClientRequest[],
  options: SequenceOptions,
): Promise<SequenceResult> {
  const results: ExchangeResult[] = [];
  let connections = 0;
  let conn: Connection | null = null;
  const open = (): Connection => {
    connections++;
    return new Connection(port);
  };
  try {
    if (options.mode === 'pipeline') {
      conn = open();
      conn.write(Buffer.concat(requests.flatMap((r) => r.pieces)));
      let from = Date.now();
      for (const request of requests) {
        const response = await conn.response(request.method, from + options.boundMs);
        const ms = Date.now() - from;
        from = Date.now();
        if (typeof response === 'string') {
          results.push({ error: response, ms, connection: connections, bodyWithheld: false });
          break;
        }
        results.push({ response, ms, connection: connections, bodyWithheld: false });
        if (endsConnection(response)) break;
      }
      return { results, connections };
    }
    for (const request of requests) {
      conn ??= open();
      const start = Date.now();
      const deadline = start + options.boundMs;
      const result = await sendOne(conn, request, options, deadline);
      result.connection = connections;
      results.push(result);
      if (result.error !== undefined) break;
      if (result.bodyWithheld || endsConnection(result.response!)) {
        conn.close();
        conn = null;
      }
    }
    return { results, connections };
  } finally {
    conn?.close();
  }
}

async function sendOne(
  conn: Connection,
  request: ClientRequest,
  options: SequenceOptions,
  deadline: number,
): Promise<ExchangeResult> {
  const start = Date.now();
  const slow = options.mode === 'slow';
  const result: ExchangeResult = { ms: 0, connection: 0, bodyWithheld: false };
  const [head, ...rest] = request.pieces;
  conn.write(head!);
  let sendBody = true;
  if (request.expectContinue === true && rest.length > 0) {
    const answer = await conn.continueOrFinal(Math.min(deadline, Date.now() + CONTINUE_WAIT_MS));
    if (typeof answer === 'string') {
      result.error = answer;
      result.ms = Date.now() - start;
      return result;
    }
    sendBody = answer;
    result.bodyWithheld = !answer;
  }
  if (sendBody) {
    for (const piece of rest) {
      if (slow && options.pieceGapMs) await delay(options.pieceGapMs);
      conn.write(piece);
    }
  }
  if (slow && options.pauseMs) {
    conn.socket.pause();
    await delay(options.pauseMs);
    conn.socket.resume();
  }
  const response = await conn.response(request.method, deadline);
  result.ms = Date.now() - start;
  if (typeof response !== 'string') result.response = response;
  else if (response.startsWith('hang'))
    result.error = `hang: no complete response ${result.ms} ms after the request`;
  else result.error = response;
  return result;
}

export interface Collected {
  received: Buffer;
  /** The server closed the connection. */
  closed: boolean;
}

/**
 * Writes `pieces` to 127.0.0.1:`port` (one write each, a turn of the event loop apart) and
 * collects what comes back until the server closes, `done(received)` holds, or nothing has arrived
 * for `idleMs` after the last write while `quiet(received)` holds; at most `maxMs`.
 */
export function sendAndCollect(
  port: number,
  pieces: Buffer[],
  options: {
    idleMs: number;
    maxMs: number;
    done?: (received: Buffer) => boolean;
    quiet?: (received: Buffer) => boolean;
  },
): Promise<Collected> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let finished = false;
    let written = false;
    let idle: NodeJS.Timeout | null = null;
    const finish = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(overall);
      if (idle !== null) clearTimeout(idle);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed });
    };
    const overall = setTimeout(() => finish(false), options.maxMs);
    const rearm = (): void => {
      // Not once finished: the write loop can end after a close already finished the exchange, and
      // an idle timer armed then would re-arm itself forever and keep the test process alive.
      if (!written || finished) return;
      if (idle !== null) clearTimeout(idle);
      idle = setTimeout(() => {
        if (options.quiet === undefined || options.quiet(Buffer.concat(chunks))) finish(false);
        else rearm();
      }, options.idleMs);
    };
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      if (options.done?.(Buffer.concat(chunks))) finish(false);
      else rearm();
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        await new Promise((r) => setImmediate(r));
      }
      written = true;
      rearm();
    });
  });
}
