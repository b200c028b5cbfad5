/**
 * `local_reply_config` end to end (Envoy's LocalReplyConfig): the first matching mapper changes a
 * local reply's status, body and headers; `body_format` / `body_format_override` write the body
 * (text or JSON, with %LOCAL_REPLY_BODY%); gRPC clients get the rewritten reply as trailers-only;
 * the access log sees the status sent. Replies from the upstream are never touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  accessLogLines,
  fileAccessLogYaml,
  httpProxyYaml,
  request,
  startLegate,
  startOrigin,
  staticCluster,
  type LegateProcess,
  type Origin,
} from './harness';
import { freePort } from '../support/reference-process';

let origin: Origin;
let legate: LegateProcess;
let port: number;
const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-local-reply-')), 'access.log');

const LOCAL_REPLY = `
local_reply_config:
  mappers:
  - filter:
      status_code_filter:
        comparison: { op: EQ, value: { default_value: 503, runtime_key: unused } }
    status_code: 502
    body: { inline_string: "upstream is down" }
    headers_to_add:
    - header: { key: x-mapped, value: "503 to 502" }
  - filter:
      header_filter: { header: { name: x-want-json, present_match: true } }
    body_format_override:
      json_format: { code: "%RESPONSE_CODE%", message: "%LOCAL_REPLY_BODY%", path: "%REQ(:PATH)%" }
  body_format:
    text_format_source: { inline_string: "%LOCAL_REPLY_BODY% (%RESPONSE_CODE%)\\n" }
${fileAccessLogYaml(logFile, '%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% [%LOCAL_REPLY_BODY%]\\n')}`;

before(async () => {
  origin = await startOrigin((_req, res) => {
    res.statusCode = 503; // an upstream's own 503 is not a local reply
    res.end('from the origin');
  });
  const deadPort = await freePort();
  legate = await startLegate(
    httpProxyYaml({
      hcmExtra: LOCAL_REPLY,
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: /down }
    route: { cluster: dead }
  - match: { prefix: /origin }
    route: { cluster: o }
  - match: { prefix: /teapot }
    direct_response: { status: 418, body: { inline_string: "short and stout" } }`,
      clusters: `${staticCluster('dead', [deadPort])}\n${staticCluster('o', [origin.port])}`,
    }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate.stop();
  await origin.close();
});

test('a mapper rewrites status, body and headers; body_format writes the body', async () => {
  const r = await request(port, { path: '/down' });
  assert.equal(r.status, 502);
  assert.equal(r.body.toString(), 'upstream is down (502)\n');
  assert.equal(r.headers['content-type'], 'text/plain');
  assert.equal(r.headers['x-mapped'], '503 to 502');
});

test('no mapper matches: the reply keeps its status and text, in body_format', async () => {
  const teapot = await request(port, { path: '/teapot' });
  assert.equal(teapot.status, 418);
  assert.equal(teapot.body.toString(), 'short and stout (418)\n');
  const noRoute = await request(port, { path: '/nowhere' });
  assert.equal(noRoute.status, 404);
  assert.equal(noRoute.body.toString(), ' (404)\n', 'an empty body is an empty %LOCAL_REPLY_BODY%');
  assert.equal(noRoute.headers['x-mapped'], undefined);
});

test('body_format_override: JSON with typed values and application/json', async () => {
  const r = await request(port, { path: '/nowhere', headers: { 'x-want-json': '1' } });
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(r.body.toString()), { code: 404, message: '', path: '/nowhere' });
});

test("an upstream's own response is not a local reply", async () => {
  const r = await request(port, { path: '/origin' });
  assert.equal(r.status, 503);
  assert.equal(r.body.toString(), 'from the origin');
  assert.equal(r.headers['x-mapped'], undefined);
});

test('a gRPC client gets the rewritten reply as trailers-only', async () => {
  const r = await request(port, { path: '/down', headers: { 'content-type': 'application/grpc' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '14', '502 maps to UNAVAILABLE');
  assert.equal(decodeURIComponent(String(r.headers['grpc-message'])), 'upstream is down (502)\n');
});

test('the access log has the status sent and the local reply body', async () => {
  const lines = await accessLogLines(logFile, 5);
  assert.ok(lines.includes('/down 502 UF [upstream is down]'), lines.join('\n'));
  assert.ok(lines.includes('/origin 503 - [-]'), lines.join('\n'));
});
