/**
 * `use_remote_address` with `xff_num_trusted_hops` end to end, on both downstream codecs: the
 * trusted client address comes from x-forwarded-for, the peer is appended to it (a loopback peer as
 * the host's address, Envoy's local address), and the client
 * address is what %DOWNSTREAM_REMOTE_ADDRESS% shows in header mutations and access logs while
 * %DOWNSTREAM_DIRECT_REMOTE_ADDRESS% shows the peer.
 *
 * Regression (issue 10, defect 9): xff_num_trusted_hops was parsed and ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { catchAllYaml, fileAccessLogYaml, request, startLegate, startOrigin } from './harness';
import { hostAddress } from '../../src/filters/network/http-connection-manager/forwarding';

for (const codec of ['legate', 'uws'] as const) {
  test(`xff_num_trusted_hops picks the client from x-forwarded-for (${codec} codec)`, async () => {
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-xff-')), 'access.log');
    const origin = await startOrigin();
    const legate = await startLegate(
      catchAllYaml([origin.port], {
        hcmExtra: `
use_remote_address: true
xff_num_trusted_hops: 1
${fileAccessLogYaml(logFile, '%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT% %REQ(:PATH)%')}`,
        routeFields: `
request_headers_to_add:
- header: { key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" }`,
      }),
      { concurrency: 1, args: ['--http1-codec', codec] },
    );
    try {
      const port = legate.ports.get('proxy')!;
      const spoofed = await request(port, {
        path: '/via-proxy',
        headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9', 'x-forwarded-proto': 'https' },
      });
      assert.equal(spoofed.status, 200);
      const direct = await request(port, { path: '/direct' });
      assert.equal(direct.status, 200);
      const [viaProxy, noXff] = origin.requests.slice(-2);
      // A loopback peer is appended as the host's address, as Envoy does.
      assert.equal(viaProxy!.headers['x-forwarded-for'], `198.51.100.7, 203.0.113.9,${hostAddress()}`);
      assert.equal(viaProxy!.headers['x-client'], '203.0.113.9');
      assert.equal(viaProxy!.headers['x-forwarded-proto'], 'https', 'set by a trusted hop');
      assert.equal(noXff!.headers['x-forwarded-for'], hostAddress());
      assert.equal(noXff!.headers['x-client'], '127.0.0.1');
      assert.equal(noXff!.headers['x-forwarded-proto'], 'http');
      await legate.stop();
      const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
      assert.deepEqual(lines.slice(0, 1), ['203.0.113.9:0 127.0.0.1 /via-proxy']);
      assert.match(lines[1] ?? '', /^127\.0\.0\.1:\d+ 127\.0\.0\.1 \/direct$/);
    } finally {
      await legate.stop();
      await origin.close();
    }
  });
}
