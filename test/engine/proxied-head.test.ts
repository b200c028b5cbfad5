/**
 * On the native engine, a response head that nothing but the router and the connection manager
 * edits is written by C from the upstream's head (response_head.c, `writeProxiedHeadFrom`) instead
 * of JS building, editing and serialising a HeaderMap. Both ways must put the same bytes on the
 * wire, and log the same. Two listeners of one Legate proxy to one origin, both with an access log:
 * `in_place` (router only, a log that reads no response header but the service time: C writes the
 * head) and `js` (the same, but its log reads `content-type`, so it needs the head as a HeaderMap:
 * JS writes it). Seeded generated upstream heads (status, reason, framing, hop-by-hop and edited
 * fields, duplicates, case, empty and obs-text values) × requests (GET/HEAD, HTTP/1.0/1.1,
 * keep-alive or not) × the three `server_header_transformation`s; the heads must match but for
 * `date` and the service time values, and so must the log lines. Under LEGATE_ENGINE=js both
 * listeners take the JS path, and must still match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { accessLogLines, fileAccessLogYaml, startLegate, staticCluster } from '../integration/harness';
import { seededRandom } from '../upstream/helpers';

const CASES = 120;

const STATUSES = [200, 200, 201, 204, 206, 299, 304, 404, 500, 503, 599];
const REASONS = ['', 'OK Then', 'Custom Reason', 'caf\u00e9 ol\u00e9', 'Not\u007fValid'];
const FIELDS = [
  'Server: origin/1.0',
  'server: second',
  'Date: Tue, 01 Jan 2030 00:00:00 GMT',
  'X-Envoy-Upstream-Service-Time: 7',
  'x-envoy-upstream-service-time: 8',
  'Connection: keep-alive',
  'Keep-Alive: timeout=5',
  'Proxy-Connection: close',
  'Upgrade: h2c',
  'Content-Type: text/plain',
  'X-Empty: ',
  'Set-Cookie: a=1',
  'Set-Cookie: b=2',
  'X-Dup: 1',
  'x-dup: 2',
  'Cache-Control: no-cache',
  'X-Tab: a\tb',
];

/** The upstream response of case `n` (bytes the origin writes, then it closes). */
function upstreamResponse(random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const status = pick(STATUSES);
  const reason = pick(REASONS);
  const lines = [`HTTP/1.1 ${status}${reason === '' && random() < 0.5 ? '' : ` ${reason}`}`];
  const fields = FIELDS.filter(() => random() < 0.35).sort(() => random() - 0.5);
  lines.push(...fields);
  const noBody = status === 204 || status === 304;
  const framing = noBody ? 'none' : pick(['length', 'length0', 'chunked', 'close']);
  if (framing === 'length') lines.push('Content-Length: 5');
  if (framing === 'length0') lines.push('Content-Length: 0');
  if (framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  const body =
    framing === 'length' || framing === 'close'
      ? 'hello'
      : framing === 'chunked'
        ? '5\r\nhello\r\n0\r\n\r\n'
        : '';
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const REQUESTS = [
  'GET /c HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  'HEAD /c HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /c HTTP/1.0\r\nHost: a\r\n\r\n',
  'GET /c HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n',
  'HEAD /c HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n',
];

/** The origin answers each connection's request with the next queued response, then closes. */
function startOrigin(): Promise<{ port: number; queue: string[]; close: () => void }> {
  const queue: string[] = [];
  const server = net.createServer((socket) => {
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.end(queue.shift() ?? 'HTTP/1.1 500 Empty Queue\r\nContent-Length: 0\r\n\r\n', 'latin1');
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as net.AddressInfo).port, queue, close: () => server.close() }),
    ),
  );
}

/** Sends `request` on a new connection and returns the response head, with its volatile values masked. */
function responseHead(port: number, request: string): Promise<string> {
  return exchange(port, request, 'head');
}

/**
 * Sends `request` on a new connection; resolves with the response head (masked) once it arrived
 * (`until` 'head'), or once the connection closed (`until` 'close': the requests of the log test
 * ask for it, so the whole response has been sent and logged by then).
 */
function exchange(port: number, request: string, until: 'head' | 'close'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete head after 5 s: ${JSON.stringify(received)}`));
    }, 5000);
    socket.on('connect', () => socket.write(request, 'latin1'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (until === 'head' && received.includes('\r\n\r\n')) done();
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      if (received.includes('\r\n\r\n')) return done();
      clearTimeout(timer);
      reject(new Error(`closed without a complete head: ${JSON.stringify(received)}`));
    });
    function done(): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(
        received
          .slice(0, received.indexOf('\r\n\r\n'))
          .replace(/^date: (?!Tue, 01 Jan 2030).*$/gm, 'date: <now>')
          .replace(/^x-envoy-upstream-service-time: \d+$/gm, 'x-envoy-upstream-service-time: <ms>'),
      );
    }
  });
}

/** What both listeners log; `js`'s log adds the response's content-type, which needs the head as a HeaderMap. */
const LOG_FORMAT =
  '%REQ(:METHOD)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% ' +
  '%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %RESP(:STATUS)% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%';
const JS_LOG_SUFFIX = ' ct=%RESP(CONTENT-TYPE)%';

function proxyYaml(originPort: number, serverMode: string, logDir: string): string {
  const listener = (name: string, format: string): string => `
  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          server_header_transformation: ${serverMode}
          server_name: legate-test
${fileAccessLogYaml(path.join(logDir, `${name}.log`), format)
  .split('\n')
  .map((l) => `          ${l}`)
  .join('\n')}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: o } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${listener('in_place', LOG_FORMAT)}${listener('js', LOG_FORMAT + JS_LOG_SUFFIX)}
  clusters:
${staticCluster('o', [originPort])
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

for (const serverMode of ['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH']) {
  test(`response heads written in place equal those JS writes (server_header_transformation ${serverMode})`, async () => {
    const seed = Number(process.env.LEGATE_FUZZ_SEED ?? Date.now() % 100_000);
    const origin = await startOrigin();
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-proxied-head-'));
    const legate = await startLegate(proxyYaml(origin.port, serverMode, logDir), { concurrency: 1 });
    try {
      const random = seededRandom(seed);
      for (let n = 0; n < CASES; n++) {
        const response = upstreamResponse(random);
        const request = REQUESTS[n % REQUESTS.length]!;
        origin.queue.push(response, response);
        const what = `seed ${seed} (LEGATE_FUZZ_SEED replays it), case ${n}: ${JSON.stringify(request)} answered by ${JSON.stringify(response)}`;
        const head = (listener: string): Promise<string> =>
          responseHead(legate.ports.get(listener)!, request).catch((err: Error) => {
            throw new Error(`${listener}: ${err.message}; ${what}`);
          });
        const inPlace = await head('in_place');
        const js = await head('js');
        assert.equal(inPlace, js, what);
      }
    } finally {
      await legate.stop();
      origin.close();
    }
  });
}

/** Masks a log line's service time (its last field for `in_place`); `js`'s line loses its content-type first. */
function comparableLogLine(line: string, listener: 'in_place' | 'js'): string {
  const fields = listener === 'js' ? line.replace(/ ct=[^ ]*$/, '') : line;
  return fields.replace(/ \d+$/, ' <ms>');
}

test('access-log lines of heads written in place equal those of heads JS writes (bytes, flags, service time)', async () => {
  const seed = Number(process.env.LEGATE_FUZZ_SEED ?? Date.now() % 100_000);
  const origin = await startOrigin();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-proxied-head-'));
  const legate = await startLegate(proxyYaml(origin.port, 'OVERWRITE', logDir), { concurrency: 1 });
  const cases: string[] = [];
  try {
    const random = seededRandom(seed);
    // Every request asks to close: the response is whole (and logged) when the connection closes.
    const requests = REQUESTS.filter((r) => r.includes('HTTP/1.0') && !r.includes('keep-alive')).concat(
      REQUESTS.filter((r) => r.includes('Connection: close')),
      'HEAD /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    for (let n = 0; n < CASES / 2; n++) {
      const response = upstreamResponse(random);
      const request = requests[n % requests.length]!;
      origin.queue.push(response, response);
      cases.push(`case ${n}: ${JSON.stringify(request)} answered by ${JSON.stringify(response)}`);
      for (const listener of ['in_place', 'js'])
        await exchange(legate.ports.get(listener)!, request, 'close').catch((err: Error) => {
          throw new Error(`${listener}: ${err.message}; seed ${seed}, ${cases.at(-1)}`);
        });
    }
    const inPlace = await accessLogLines(path.join(logDir, 'in_place.log'), cases.length);
    const js = await accessLogLines(path.join(logDir, 'js.log'), cases.length);
    for (let n = 0; n < cases.length; n++) {
      const what = `seed ${seed} (LEGATE_FUZZ_SEED replays it), ${cases[n]}`;
      assert.match(js[n]!, / ct=[^ ]+$/, `js's log reads the head: ${what}`);
      assert.equal(comparableLogLine(inPlace[n]!, 'in_place'), comparableLogLine(js[n]!, 'js'), what);
    }
  } finally {
    await legate.stop();
    origin.close();
  }
});
