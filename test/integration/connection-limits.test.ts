/**
 * The connection manager's `common_http_protocol_options` limits per downstream connection, as
 * Envoy's: `max_requests_per_connection` makes the request that reaches it the connection's last
 * (its response carries `connection: close`), `max_connection_duration` drains the connection once
 * it is that old (a response in flight carries `connection: close`, an idle connection closes once
 * quiet), each counted (`downstream_cx_max_requests_reached`, `downstream_cx_max_duration_reached`).
 * On HTTP/2 (codec_type AUTO, prior knowledge) the last stream allowed comes with GOAWAY.
 * The uws codec, which keeps no state per connection, refuses them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  httpProxyYaml,
  runLegate,
  startLegate,
  startOrigin,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

const MAX_REQUESTS = 3;
const MAX_DURATION_MS = 300;

let origin: Origin;
let legate: LegateProcess;
let port: number;

function yaml(): string {
  return httpProxyYaml({
    hcmExtra: `codec_type: AUTO\ncommon_http_protocol_options: { max_requests_per_connection: ${MAX_REQUESTS}, max_connection_duration: ${MAX_DURATION_MS / 1000}s }`,
    virtualHosts:
      '- { name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: o } }] }',
    clusters: staticCluster('o', [origin.port]),
  });
}

before(async () => {
  origin = await startOrigin((req, res) => {
    const answer = (): void => void res.end('ok');
    if (req.url === '/slow') setTimeout(answer, 400);
    else answer();
  });
  legate = await startLegate(yaml(), { concurrency: 1 });
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate.stop();
  await origin.close();
});

/** A keep-alive connection that sends one request at a time and reads each response (2 bytes of body). */
class Client {
  private readonly socket: net.Socket;
  private received = '';
  private waiter: (() => void) | null = null;
  readonly closedAt: Promise<number>;

  constructor() {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d) => {
      this.received += d.toString('latin1');
      this.waiter?.();
    });
    this.socket.on('error', () => {});
    this.closedAt = new Promise((resolve) => this.socket.on('close', () => resolve(Date.now())));
  }

  /** The response head of `GET path` (the body, `ok`, read too). */
  async get(path: string): Promise<string> {
    this.received = '';
    this.socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
    const deadline = Date.now() + 5000;
    while (!/\r\n\r\nok$/.test(this.received)) {
      if (Date.now() > deadline) throw new Error(`no whole response: ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.received.slice(0, this.received.indexOf('\r\n\r\n'));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const counter = (name: string): Promise<number> => stat(legate, `http.ingress_http.downstream_cx_${name}`);

test('max_requests_per_connection: the last request allowed is answered with connection: close, then the connection closes', async () => {
  const before = await counter('max_requests_reached');
  const client = new Client();
  try {
    for (let n = 1; n < MAX_REQUESTS; n++)
      assert.doesNotMatch(await client.get('/'), /connection: close/i, `request ${n} keeps the connection`);
    assert.match(await client.get('/'), /connection: close/i, `request ${MAX_REQUESTS} is the last`);
    await client.closedAt;
    assert.equal(await counter('max_requests_reached'), before + 1);
  } finally {
    client.destroy();
  }
});

test('max_connection_duration: an idle connection closes once that old; a response in flight carries connection: close', async () => {
  const before = await counter('max_duration_reached');
  const idle = new Client();
  const busy = new Client();
  try {
    const openedAt = Date.now();
    assert.doesNotMatch(await idle.get('/'), /connection: close/i);
    // /slow answers after 400 ms: the connection reaches its 300 ms with the response in flight.
    assert.match(await busy.get('/slow'), /connection: close/i);
    const busyClosedAt = await busy.closedAt;
    assert.ok(busyClosedAt - openedAt >= MAX_DURATION_MS, 'the busy connection lived its duration');
    const idleClosedAt = await idle.closedAt;
    assert.ok(idleClosedAt - openedAt >= MAX_DURATION_MS, 'not before its duration');
    assert.ok(
      idleClosedAt - openedAt < 4000,
      `closed ${idleClosedAt - openedAt} ms after opening, before the drain timeout`,
    );
    assert.equal(await counter('max_duration_reached'), before + 2);
  } finally {
    idle.destroy();
    busy.destroy();
  }
});

test('max_requests_per_connection on HTTP/2: GOAWAY with the last stream allowed, which is answered', async () => {
  const before = await counter('max_requests_reached');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const goaway = new Promise<number>((resolve) =>
    session.once('goaway', (_code, lastStreamId) => resolve(lastStreamId)),
  );
  try {
    const statuses: number[] = [];
    for (let n = 0; n < MAX_REQUESTS; n++) {
      const stream = session.request({ ':path': '/' });
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          let status = 0;
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.on('error', reject);
          stream.resume();
          stream.on('end', () => resolve(status));
        }),
      );
    }
    assert.deepEqual(statuses, Array(MAX_REQUESTS).fill(200));
    assert.equal(await goaway, 2 * MAX_REQUESTS - 1, 'GOAWAY names the last stream, the third');
    assert.equal(await counter('max_requests_reached'), before + 1);
  } finally {
    session.destroy();
  }
});

test('the uws codec refuses connection limits with an error at legate_http1_codec', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-connection-limits-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(file, yaml());
  const uws = await runLegate(['-c', file, '--http1-codec', 'uws', '--mode', 'validate']);
  assert.equal(uws.code, 1);
  assert.match(uws.stdout + uws.stderr, /legate_http1_codec.*uws codec keeps no state per connection/s);
});
