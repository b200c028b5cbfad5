/**
 * An upstream origin that answers byte by byte as a test script says, for tests that need response
 * shapes node:http would not produce (a chunk of exactly 16 KiB, 1xx before the final response,
 * close-delimited bodies, an early answer without reading the body).
 *
 * Requests are read with the independent parser of `http1-wire.ts`, one at a time per connection,
 * in order. The script of a request runs as soon as its head is complete (so it can answer
 * `Expect: 100-continue` before the body), and the next request on the connection is read once
 * both the script and the body are done. Everything is recorded: connections, requests, and any
 * bytes that were not a valid request (`violations`), which a proxy must never send.
 */
import * as net from 'node:net';
import { createHash } from 'node:crypto';
import { readBody, readRequestHead, bodyFraming, type RequestHead } from './http1-wire';

export interface OriginRequest {
  /** 1-based id of the TCP connection the request came on. */
  connection: number;
  /** 0-based position of the request on its connection. */
  index: number;
  head: RequestHead;
  /** Resolves with the body once it is complete (rejects if the connection closes first). */
  body: Promise<Buffer>;
}

/** What a script may do with the connection of the request it answers. */
export interface OriginReply {
  /** Writes bytes; resolves once they are handed to the kernel. */
  write(data: string | Buffer): Promise<void>;
  /** Sends FIN after what was written (a close-delimited body ends this way). */
  end(): void;
  destroy(): void;
}

export type OriginScript = (request: OriginRequest, reply: OriginReply) => Promise<void> | void;

export interface ReceivedRequest {
  connection: number;
  index: number;
  method: string;
  target: string;
  headers: RequestHead['headers'];
  /** sha256 of the body (hex) and its length; absent if the body never completed. */
  bodySha256?: string;
  bodyLength?: number;
}

export interface RawOrigin {
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  requests: ReceivedRequest[];
  /** Bytes a proxy should never have sent: invalid requests, a head cut off by a close. */
  violations: string[];
  /** Requests whose body was cut off by a close (a proxy does this when its client goes away). */
  cutOff: string[];
  /** Replaces the script for requests whose head arrives from now on. */
  setScript(script: OriginScript): void;
  close(): Promise<void>;
}

/** Starts a raw origin on 127.0.0.1 (port 0). */
export async function startRawOrigin(script: OriginScript): Promise<RawOrigin> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, ++origin.connections, origin, () => currentScript);
  });
  let currentScript = script;
  const origin: RawOrigin = {
    port: 0,
    connections: 0,
    requests: [],
    violations: [],
    cutOff: [],
    setScript(s) {
      currentScript = s;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin.port = (server.address() as net.AddressInfo).port;
  return origin;
}

function serveConnection(
  socket: net.Socket,
  id: number,
  origin: RawOrigin,
  script: () => OriginScript,
): void {
  let buf: Buffer = Buffer.alloc(0);
  let ended = false;
  let closed = false;
  /** Called when bytes arrive or the connection ends; set by whichever step is waiting. */
  let wake: (() => void) | null = null;
  socket.on('data', (data: Buffer) => {
    buf = buf.length === 0 ? data : Buffer.concat([buf, data]);
    wake?.();
  });
  socket.on('end', () => {
    ended = true;
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  socket.on('error', () => {});
  const reply: OriginReply = {
    write: (data) =>
      new Promise((resolve) => {
        if (socket.destroyed) resolve();
        else socket.write(data, () => resolve());
      }),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
  };
  /** Resolves when `step` returns non-null, re-running it whenever bytes arrive; null if the connection ends first. */
  const until = <T>(step: () => T | null): Promise<T | null> =>
    new Promise((resolve) => {
      const attempt = (): void => {
        const result = step();
        if (result !== null || ended || closed) {
          wake = null;
          resolve(result);
        }
      };
      wake = attempt;
      attempt();
    });

  const loop = async (): Promise<void> => {
    for (let index = 0; !closed; index++) {
      let failure = '';
      const head = await until(() => {
        const parsed = readRequestHead(buf);
        if (parsed.kind === 'error') failure = parsed.reason;
        return parsed.kind === 'ok' ? parsed.value : parsed.kind === 'error' ? false : null;
      });
      if (head === false) {
        origin.violations.push(`connection ${id} request ${index}: ${failure}: ${preview(buf)}`);
        socket.destroy();
        return;
      }
      if (head === null) {
        if (buf.length > 0)
          origin.violations.push(`connection ${id}: incomplete request head ${preview(buf)}`);
        return;
      }
      const framing = bodyFraming(head.headers, { request: true });
      if (framing.kind !== 'ok') {
        origin.violations.push(
          `connection ${id} request ${index}: ${framing.kind === 'error' ? framing.reason : ''}`,
        );
        socket.destroy();
        return;
      }
      const record: ReceivedRequest = {
        connection: id,
        index,
        method: head.method,
        target: head.target,
        headers: head.headers,
      };
      origin.requests.push(record);
      const bodyStart = head.length;
      const bodyDone = until(() => {
        const parsed = readBody(buf, bodyStart, framing.value.framing, framing.value.contentLength);
        if (parsed.kind === 'error') failure = parsed.reason;
        return parsed.kind === 'ok' ? parsed.value : parsed.kind === 'error' ? false : null;
      });
      const body = bodyDone.then((b) => {
        if (b === null || b === false) throw new Error(b === false ? failure : 'connection closed mid-body');
        return Buffer.from(b.data);
      });
      body.catch(() => {});
      // A script fails when the body it awaits is cut off: that is reported as a cut-off, not twice.
      let scriptError: Error | null = null;
      const scriptDone = Promise.resolve(script()({ connection: id, index, head, body }, reply)).catch(
        (err: Error) => (scriptError = err),
      );
      const parsedBody = await bodyDone;
      if (parsedBody === false) {
        origin.violations.push(`connection ${id} request ${index}: ${failure}`);
        socket.destroy();
        return;
      }
      if (parsedBody === null) {
        origin.cutOff.push(`connection ${id} request ${index}: closed mid-body`);
        return;
      }
      record.bodyLength = parsedBody.data.length;
      record.bodySha256 = sha256(parsedBody.data);
      buf = buf.subarray(bodyStart + parsedBody.length);
      await scriptDone;
      if (scriptError !== null) {
        origin.violations.push(
          `connection ${id} request ${index}: script failed: ${(scriptError as Error).message}`,
        );
      }
    }
  };
  void loop();
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function preview(buf: Buffer): string {
  return JSON.stringify(buf.toString('latin1', 0, Math.min(buf.length, 120)));
}
