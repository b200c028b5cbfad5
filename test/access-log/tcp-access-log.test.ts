/**
 * Connection-level access logs written by a real proxy: tcp_proxy's `access_log` (one line per
 * session, Envoy's default format with the HTTP operators as '-', and a JSON format; UF when the
 * upstream refuses) and a listener's `access_log` (only connections that started no request).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { catchAllYaml, request, startLegate, startOrigin } from '../integration/harness';
import { collect, connect, refusedPort, startEcho, tcpProxyYaml } from '../l4/fixtures';

function tempFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'legate-tcp-log-')), name);
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

function fileLogger(file: string, format = ''): string {
  return `- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file}${format === '' ? '' : `\n    log_format:\n${format}`}`;
}

test('tcp_proxy access_log: one line per session, default and JSON formats', async () => {
  const echo = await startEcho();
  const defaults = tempFile('default.log');
  const json = tempFile('json.log');
  const yaml = tcpProxyYaml({
    upstreamPorts: [echo.port],
    tcpProxyExtra: `access_log:
${fileLogger(defaults)}
${fileLogger(
  json,
  `      json_format:
        flags: "%RESPONSE_FLAGS%"
        rx: "%BYTES_RECEIVED%"
        tx: "%BYTES_SENT%"
        host: "%UPSTREAM_HOST%"
        cluster: "%UPSTREAM_CLUSTER%"
        client: "%DOWNSTREAM_REMOTE_ADDRESS%"
        method: "%REQ(:METHOD)%"
        protocol: "%PROTOCOL%"
        code: "%RESPONSE_CODE%"`,
)}`,
  });
  const legate = await startLegate(yaml, { concurrency: 2 });
  try {
    const port = legate.ports.get('tcp')!;
    const clients: string[] = [];
    for (const payload of ['hello legate', 'x'.repeat(1000)]) {
      const socket = await connect(port);
      clients.push(`127.0.0.1:${socket.localPort}`);
      const outcome = collect(socket);
      socket.end(payload);
      assert.equal((await outcome).data.toString(), payload);
    }
    assert.equal(await legate.stop(), 0);

    const text = lines(defaults);
    assert.equal(text.length, 2, text.join('\n'));
    const first = text.find((l) => / 12 12 /.test(l));
    assert.ok(first, text.join('\n'));
    assert.match(
      first,
      new RegExp(
        `^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "- - -" 0 - 12 12 \\d+ - "-" "-" "-" "-" "127\\.0\\.0\\.1:${echo.port}"$`,
      ),
    );
    const entries = lines(json).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      entries.sort((a, b) => (a.rx as number) - (b.rx as number)),
      [12, 1000].map((n, i) => ({
        flags: '-',
        rx: n,
        tx: n,
        host: `127.0.0.1:${echo.port}`,
        cluster: 'up',
        client: clients[i],
        method: null,
        protocol: null,
        code: 0,
      })),
    );
  } finally {
    await legate.stop();
    await echo.close();
  }
});

test('tcp_proxy access_log: a refused upstream is logged with UF', async () => {
  const dead = await refusedPort();
  const file = tempFile('uf.log');
  const yaml = tcpProxyYaml({
    upstreamPorts: [dead],
    tcpProxyExtra: `access_log:
${fileLogger(file, '      text_format_source: { inline_string: "%RESPONSE_FLAGS% %UPSTREAM_HOST% %BYTES_RECEIVED%\\n" }')}`,
  });
  const legate = await startLegate(yaml);
  try {
    const socket = await connect(legate.ports.get('tcp')!, false);
    await collect(socket);
    assert.equal(await legate.stop(), 0);
    assert.deepEqual(lines(file), [`UF 127.0.0.1:${dead} 0`]);
  } finally {
    await legate.stop();
  }
});

test('listener access_log: only connections that closed before sending a request', async () => {
  const origin = await startOrigin((_req, res) => res.end('ok'));
  const file = tempFile('listener.log');
  const listenerLog = `    access_log:
${fileLogger(
  file,
  '      text_format_source: { inline_string: "%DOWNSTREAM_REMOTE_ADDRESS% %RESPONSE_CODE% %BYTES_RECEIVED% %REQ(:PATH)%\\n" }',
)
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;
  const yaml = catchAllYaml([origin.port]).replace('  - name: proxy\n', `  - name: proxy\n${listenerLog}`);
  const legate = await startLegate(yaml);
  try {
    const port = legate.ports.get('proxy')!;
    assert.equal((await request(port, { path: '/served' })).status, 200);
    const silent = await connect(port);
    const client = `127.0.0.1:${silent.localPort}`;
    const closed = collect(silent);
    silent.end();
    await closed;
    assert.equal(await legate.stop(), 0);
    assert.deepEqual(lines(file), [`${client} 0 0 -`]);
  } finally {
    await legate.stop();
    await origin.close();
  }
});
