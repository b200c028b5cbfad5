/**
 * Requests the codec refuses are accounted for as Envoy accounts for them: each counts in
 * `http.<prefix>.downstream_cx_protocol_error`, as a request (`downstream_rq_total`) and in the class
 * of the local reply (`downstream_rq_4xx` / `_5xx`), and gets an access-log line with the `DPE`
 * flag. A body error on a request already forwarded is the same request's line, not a second one.
 *
 * Regression (issue 10, defect 13): none of them was counted anywhere nor logged.
 *
 * Legate's codec only: uWS answers malformed requests itself, without a status (README, uWS limits).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  accessLogLines,
  catchAllYaml,
  fileAccessLogYaml,
  rawExchange,
  startLegate,
  startOrigin,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

let origin: Origin;
let legate: LegateProcess;
let port: number;
let logFile: string;

before(async () => {
  logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-dpe-')), 'access.log');
  origin = await startOrigin();
  legate = await startLegate(
    catchAllYaml([origin.port], {
      hcmExtra: `
http_protocol_options: { accept_http_10: false }
${fileAccessLogYaml(logFile, '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_SENT% %REQ(:PATH)% %PROTOCOL%')}`,
    }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
});

/** Refused requests, each on its own connection, and the status the codec answers. */
const REFUSED: [string, string, number][] = [
  ['a malformed request line', 'GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n', 400],
  ['a bare LF', 'GET / HTTP/1.1\nHost: a\n\n', 400],
  [
    'Content-Length with Transfer-Encoding',
    'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    400,
  ],
  ['an unknown transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
  [
    'a head over max_request_headers_kb',
    `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(70 * 1024)}\r\n\r\n`,
    431,
  ],
  ['HTTP/1.0 with accept_http_10: false', 'GET / HTTP/1.0\r\n\r\n', 426],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505],
];

const COUNTERS = [
  'downstream_cx_protocol_error',
  'downstream_rq_total',
  'downstream_rq_4xx',
  'downstream_rq_5xx',
];

async function counters(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of COUNTERS) out[c] = await stat(legate, `http.ingress_http.${c}`);
  return out;
}

const logLines = (atLeast: number): Promise<string[]> => accessLogLines(logFile, atLeast);

test('requests the codec refuses are counted as protocol errors, requests and responses, and logged with DPE', async () => {
  const before = await counters();
  for (const [what, bytes, status] of REFUSED) {
    const text = await rawExchange(port, bytes);
    assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), what);
  }
  const after = await counters();
  const n = REFUSED.length;
  const fives = REFUSED.filter(([, , s]) => s >= 500).length;
  assert.deepEqual(Object.fromEntries(COUNTERS.map((c) => [c, after[c]! - before[c]!])), {
    downstream_cx_protocol_error: n,
    downstream_rq_total: n,
    downstream_rq_4xx: n - fives,
    downstream_rq_5xx: fives,
  });
  const lines = await logLines(n);
  for (const [what, , status] of REFUSED) {
    const body = REFUSED.find(([, , s]) => s === status) && statusBodyLength(status);
    assert.ok(lines.includes(`${status} DPE ${body} - HTTP/1.1`), `${what}: ${lines.join('\n')}`);
  }
});

test('a body error on a forwarded request is that request: one line, its 400, DPE', async () => {
  const before = await counters();
  const linesBefore = (await logLines(0)).length;
  const text = await rawExchange(
    port,
    'POST /chunky HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n',
  );
  assert.match(text, /^HTTP\/1\.1 400 /);
  const after = await counters();
  assert.equal(after.downstream_cx_protocol_error! - before.downstream_cx_protocol_error!, 1);
  assert.equal(after.downstream_rq_total! - before.downstream_rq_total!, 1);
  assert.equal(after.downstream_rq_4xx! - before.downstream_rq_4xx!, 1);
  const lines = await logLines(linesBefore + 1);
  assert.deepEqual(lines.slice(linesBefore), [`400 DPE ${statusBodyLength(400)} /chunky HTTP/1.1`]);
});

/** The codec's local reply body is the reason phrase. */
function statusBodyLength(status: number): number {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    426: 'Upgrade Required',
    431: 'Request Header Fields Too Large',
    501: 'Not Implemented',
    505: 'HTTP Version Not Supported',
  };
  return reasons[status]!.length;
}
