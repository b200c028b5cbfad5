/**
 * A small node:http origin for tests and scenarios: answers every request with a fixed body, counts
 * the requests it received (so a test can check the generator's counts are exact), and can inject
 * latency: a fixed delay per response (the slow endpoint of the LB scenario) or a periodic stall
 * (every `everyMs`, hold all responses for `forMs`: the coordinated-omission test).
 *
 * Two paths are not traffic: the proxies' active health checks (`ORIGIN_HEALTH_PATH`, answered 200
 * at once and counted apart) and the bench runner's probe (`ORIGIN_STATS_PATH`, answered with the
 * counts as JSON), so `requests` is exactly the load that reached this origin.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The path the bench configs give the proxies' active health checks. */
export const ORIGIN_HEALTH_PATH = '/__origin/health';
/** Answers `{"requests": N, "healthChecks": M}` (see `OriginCounts`); not counted itself. */
export const ORIGIN_STATS_PATH = '/__origin/stats';

export interface OriginCounts {
  requests: number;
  healthChecks: number;
}

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
  /** Requests received so far (health checks and stats probes not included). */
  readonly requests: number;
  readonly healthChecks: number;
  close(): Promise<void>;
}

export async function startOrigin(options: OriginOptions = {}): Promise<Origin> {
  const body = Buffer.alloc(options.bodyBytes ?? 13, 'x');
  const delayMs = options.delayMs ?? 0;
  const stall = options.stall;
  const startedAt = performance.now();
  let requests = 0;
  let healthChecks = 0;

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
    req.resume();
    if (req.url === ORIGIN_HEALTH_PATH) {
      healthChecks++;
      respond(res);
      return;
    }
    if (req.url === ORIGIN_STATS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, healthChecks } satisfies OriginCounts));
      return;
    }
    requests++;
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
    get healthChecks() {
      return healthChecks;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
