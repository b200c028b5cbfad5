/**
 * A small node:http origin for tests and scenarios: answers every request with a fixed body, counts
 * the requests it received (so a test can check the generator's counts are exact), and can inject
 * latency: a fixed delay per response (the slow endpoint of the LB scenario) or a periodic stall
 * (every `everyMs`, hold all responses for `forMs`: the coordinated-omission test).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OriginOptions {
  /** 0 = any free port. */
  port?: number;
  host?: string;
  bodyBytes?: number;
  /** Delay every response by this many ms. */
  delayMs?: number;
  /** Periodic stall: responses to requests arriving in `[k*everyMs, k*everyMs + forMs)` wait until its end. */
  stall?: { everyMs: number; forMs: number };
}

export interface Origin {
  readonly port: number;
  /** Requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export async function startOrigin(options: OriginOptions = {}): Promise<Origin> {
  const body = Buffer.alloc(options.bodyBytes ?? 13, 'x');
  const delayMs = options.delayMs ?? 0;
  const stall = options.stall;
  const startedAt = performance.now();
  let requests = 0;

  /** ms until the current stall window ends, or 0 outside one. */
  const stallRemaining = (): number => {
    if (stall === undefined) return 0;
    const inPeriod = (performance.now() - startedAt) % stall.everyMs;
    return inPeriod < stall.forMs ? stall.forMs - inPeriod : 0;
  };
  const respond = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    req.resume();
    const wait = delayMs + stallRemaining();
    if (wait > 0) setTimeout(respond, wait, res);
    else respond(res);
  });
  server.keepAliveTimeout = 75_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
