/**
 * The floor under any "one JavaScript decision per request" design of the native engine (issue 11):
 * the same engine, parser and N-API crossings as Legate (3 events into JS and 2 calls out of it per
 * proxied request), but a JS side that decides nothing (a canned upstream request, the response
 * head passed as canned bytes, the body piped, one upstream connection per client connection).
 * Against it, Legate itself behind the same origin and load: the difference is what the connection
 * manager, router, pool and stats cost in place, as opposed to `request-path.ts`, which measures
 * them without sockets.
 *
 * Each proxy runs in its own process; the origin (13 B, keep-alive) runs here and the load is
 * `legate bench -c 50` in another process. Reported: requests/s and the proxy process's user and
 * kernel CPU per request (utime/stime of /proc/PID/stat around the measured run; softirq time is
 * not in either). `node dist/perf/engine-floor.js` (or `npm run perf -- floor`); Linux only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadNative } from '../src/native/bindings';
import { Exchange } from '../src/engine/exchange';
import { engineCodecLimits } from '../src/engine/codec-limits';
import { BodyFraming } from '../src/http/h1-heads';
import { oneRouteProxyYaml } from './lib/proxy-yaml';

const REPO = path.join(__dirname, '..', '..');
const LEGATE = path.join(REPO, 'bin', 'legate.js');
const CONNECTIONS = 50;
const SECONDS = Number(process.env.FLOOR_SECONDS ?? 5);

/** engine.h's event numbers this file answers. */
const REQUEST_HEAD = 3;
const DOWNSTREAM_CLOSED = 8;
const CONNECTED = 9;
const RESPONSE_HEAD = 12;

/** The floor proxy: serves `port`, forwards every request to the origin at `originPort`. */
function serveFloor(port: number, originPort: number): void {
  const native = loadNative();
  if (native?.engineCreate === undefined) throw new Error('the native engine is not available');
  const engine = native as Required<typeof native>;
  const request = Buffer.from(`GET / HTTP/1.1\r\nhost: 127.0.0.1:${originPort}\r\n\r\n`, 'latin1');
  const response = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\n');
  const upstreamOf = new Map<number, number>();
  const downstreamOf = new Map<number, number>();
  const connecting = new Set<number>();
  const forward = (upstream: number): void =>
    engine.clientWriteHead(upstream, request, request.length, BodyFraming.NONE, true, false, true, -1);
  const created = engine.engineCreate((type: number, conn: number) => {
    try {
      if (type === REQUEST_HEAD) {
        const upstream = upstreamOf.get(conn);
        if (upstream === undefined) {
          const fresh = engine.engineConnect('127.0.0.1', originPort);
          upstreamOf.set(conn, fresh);
          downstreamOf.set(fresh, conn);
          connecting.add(fresh);
        } else forward(upstream);
      } else if (type === CONNECTED && connecting.delete(conn)) {
        forward(conn);
      } else if (type === RESPONSE_HEAD) {
        const downstream = downstreamOf.get(conn)!;
        engine.serverWriteHead(
          downstream,
          response,
          response.length,
          BodyFraming.CONTENT_LENGTH,
          false,
          false,
          200,
          conn,
        );
      } else if (type === DOWNSTREAM_CLOSED) {
        const upstream = upstreamOf.get(conn);
        upstreamOf.delete(conn);
        if (upstream !== undefined) engine.connClose(upstream);
      }
    } finally {
      exchange.endEvent();
    }
  });
  const exchange = new Exchange(created.control, () => engine.engineData(), []);
  const limits = engineCodecLimits({
    maxRequestHeadersKb: 60,
    maxRequestHeadersCount: 100,
    headersWithUnderscoresAction: 'ALLOW',
    acceptHttp10: true,
    maxRequestBodyBytes: 0,
  });
  const fd = engine.listenReusePort('127.0.0.1', port, 511);
  engine.engineListen(
    fd,
    limits.maxHeadBytes,
    limits.maxHeaders,
    limits.underscores,
    limits.acceptHttp10,
    0,
    limits.replies,
    false,
    false,
    null,
    0,
  );
  process.stdout.write('ready\n');
}

function startOrigin(): Promise<net.Server> {
  const answer = Buffer.from(
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nhello world!\n',
  );
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      // One answer per request head (GETs without bodies).
      for (let at = data.indexOf('\r\n\r\n'); at !== -1; at = data.indexOf('\r\n\r\n', at + 4))
        socket.write(answer);
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a proxy and resolves once it accepts connections. */
async function startProxy(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`${args.join(' ')} did not listen on ${port}`);
}

/** utime and stime of `pid` in µs. */
function cpuMicros(pid: number): { user: number; kernel: number } {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const tick = 1e6 / 100; // USER_HZ
  return { user: Number(fields[11]) * tick, kernel: Number(fields[12]) * tick };
}

/** Runs the load generator (another process: the origin answers from this one meanwhile). */
async function load(port: number, seconds: number): Promise<number> {
  const out = path.join(os.tmpdir(), `legate-floor-${process.pid}.json`);
  const generator = spawn(
    process.execPath,
    [
      LEGATE,
      'bench',
      `http://127.0.0.1:${port}/`,
      '-c',
      String(CONNECTIONS),
      '-d',
      `${seconds}s`,
      '--no-progress',
      '--json',
      out,
    ],
    { stdio: 'ignore' },
  );
  const status = await new Promise<number | null>((resolve) => generator.on('exit', resolve));
  if (status !== 0) throw new Error('legate bench failed');
  const requests = (JSON.parse(fs.readFileSync(out, 'utf8')) as { requests: number }).requests;
  fs.rmSync(out, { force: true });
  return requests;
}

async function measure(label: string, args: (port: number) => string[]): Promise<void> {
  const port = await freePort();
  const child = await startProxy(args(port), port);
  try {
    await load(port, 1); // warm-up: JIT, pools
    const before = cpuMicros(child.pid!);
    const requests = await load(port, SECONDS);
    const after = cpuMicros(child.pid!);
    const user = (after.user - before.user) / requests;
    const kernel = (after.kernel - before.kernel) / requests;
    console.log(
      `${label.padEnd(34)} ${String(Math.round(requests / SECONDS)).padStart(7)} req/s   user ${user.toFixed(2)} µs/req   kernel ${kernel.toFixed(2)} µs/req`,
    );
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve-floor') {
    serveFloor(Number(process.argv[3]), Number(process.argv[4]));
    return;
  }
  if (loadNative()?.engineCreate === undefined) {
    console.log('skipped: the native engine is not available here');
    return;
  }
  const origin = await startOrigin();
  const originPort = (origin.address() as net.AddressInfo).port;
  const config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-floor-')), 'legate.yaml');
  try {
    console.log(`${CONNECTIONS} connections, ${SECONDS} s each, 13 B responses, one proxy process at a time`);
    for (let round = 0; round < 2; round++) {
      await measure('floor (engine, no decision)', (port) => [
        __filename,
        'serve-floor',
        String(port),
        String(originPort),
      ]);
      await measure('Legate (engine, HCM + router)', (port) => {
        fs.writeFileSync(config, oneRouteProxyYaml(port, originPort));
        return [LEGATE, '-c', config, '--concurrency', '1'];
      });
    }
  } finally {
    origin.close();
    fs.rmSync(path.dirname(config), { recursive: true, force: true });
  }
}

void main().then(
  () => {
    if (process.argv[2] !== 'serve-floor') process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
