/**
 * The connection manager's `via` (appended to the Via of requests and responses, Envoy's
 * Utility::appendVia) and `always_set_request_id_in_response` (the response carries the request's
 * x-request-id, the one it came with or the one generated for it). The origin answers with the Via
 * and x-request-id it received, and a Via of its own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { catchAllYaml, request, startLegate, startOrigin, type LegateProcess, type Origin } from './harness';

let origin: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin((req, res) => {
    res.setHeader('via', '1.1 origin');
    res.end(`${req.headers.via ?? '-'}|${req.headers['x-request-id'] ?? '-'}`);
  });
  legate = await startLegate(
    catchAllYaml([origin.port], { hcmExtra: 'via: legate-test\nalways_set_request_id_in_response: true' }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate.stop();
  await origin.close();
});

test('via is appended on the way up and on the way down', async () => {
  const r = await request(port, { headers: { via: '1.0 client' } });
  assert.equal(r.body.toString().split('|')[0], '1.0 client, legate-test');
  assert.equal(r.headers.via, '1.1 origin, legate-test');
  const bare = await request(port);
  assert.equal(bare.body.toString().split('|')[0], 'legate-test');
});

test("the response carries the request's x-request-id, given or generated", async () => {
  const given = await request(port, { headers: { 'x-request-id': 'abc-123' } });
  assert.equal(given.body.toString().split('|')[1], 'abc-123');
  assert.equal(given.headers['x-request-id'], 'abc-123');
  const generated = await request(port);
  const sent = generated.body.toString().split('|')[1]!;
  assert.match(sent, /^[0-9a-f-]{36}$/);
  assert.equal(generated.headers['x-request-id'], sent);
});
