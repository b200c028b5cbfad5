/**
 * Access logs written by a real proxy (--concurrency 2): Envoy's default format, a text format and
 * a JSON format to files, a stdout logger, response flags, and no line lost when the proxy is
 * stopped right after the last response (the buffers are flushed on drain, not only on the timer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { httpProxyYaml, request, startLegate, startOrigin, staticCluster } from '../integration/harness';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test('access logs: default, text and JSON formats, stdout, flags, flushed on shutdown', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-access-log-'));
  const file = (name: string): string => path.join(dir, name);
  const origin = await startOrigin((_req, res) => {
    res.setHeader('content-length', '5');
    res.end('hello');
  });
  const yaml = httpProxyYaml({
    hcmExtra: `
access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('default.log')}
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('text.log')}
    log_format:
      text_format_source:
        inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT% %PROTOCOL% %REQ(X-TAG?USER-AGENT):6% %ROUTE_NAME% %START_TIME(%Y-%m-%d)%\\n"
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('json.log')}
    log_format:
      json_format:
        code: "%RESPONSE_CODE%"
        flags: "%RESPONSE_FLAGS%"
        upstream: { host: "%UPSTREAM_HOST%", cluster: "%UPSTREAM_CLUSTER%" }
        line: "%REQ(:METHOD)% %REQ(:PATH)%"
        duration: "%DURATION%"
        start: "%START_TIME%"
        client: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
        tag: "%REQ(X-TAG)%"
        version: 1
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
    log_format:
      text_format_source: { inline_string: "STDOUT-LOG %RESPONSE_CODE% %REQ(:PATH)%\\n" }`,
    virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - name: ok_route
    match: { prefix: "/ok" }
    route: { cluster: o }
  - match: { prefix: "/dead" }
    route: { cluster: dead }`,
    clusters: staticCluster('o', [origin.port]) + staticCluster('dead', [await closedPort()]),
  });
  const legate = await startLegate(yaml, { concurrency: 2 });
  try {
    const port = legate.ports.get('proxy')!;
    const N = 20;
    for (let i = 0; i < N; i++) {
      const r = await request(port, { path: `/ok/${i}`, headers: { 'x-tag': `tag-number-${i}` } });
      assert.equal(r.status, 200);
    }
    const post = await request(port, {
      method: 'POST',
      path: '/ok/post',
      body: 'abc',
      headers: { 'user-agent': 'agent007' },
    });
    assert.equal(post.status, 200);
    assert.equal((await request(port, { path: '/nothing-here' })).status, 404);
    assert.equal((await request(port, { path: '/dead' })).status, 503);
    // Stop at once: the lines must come from the drain flush, not the 1 s timer.
    assert.equal(await legate.stop(), 0);
    const total = N + 3;

    const defaults = fs.readFileSync(file('default.log'), 'utf8').split('\n').filter(Boolean);
    assert.equal(defaults.length, total);
    const line = defaults.find((l) => l.includes('/ok/0 '))!;
    assert.match(
      line,
      new RegExp(
        `^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "GET /ok/0 HTTP/1\\.1" 200 - 0 5 \\d+ \\d+ "-" "-" "[0-9a-f-]{36}" "127\\.0\\.0\\.1:${port}" "127\\.0\\.0\\.1:${origin.port}"$`,
      ),
    );
    assert.ok(
      defaults.some((l) => /"GET \/nothing-here HTTP\/1\.1" 404 NR 0 0 \d+ - .* "-"$/.test(l)),
      defaults.join('\n'),
    );

    const text = fs.readFileSync(file('text.log'), 'utf8').split('\n').filter(Boolean);
    assert.equal(text.length, total);
    const today = new Date().toISOString().slice(0, 10);
    assert.ok(
      text.includes(`GET /ok/3 200 - o 127.0.0.1:${origin.port} 0 5 HTTP/1.1 tag-nu ok_route ${today}`),
      text.join('\n'),
    );
    assert.ok(
      text.includes(`POST /ok/post 200 - o 127.0.0.1:${origin.port} 3 5 HTTP/1.1 agent0 ok_route ${today}`),
      text.join('\n'),
    );
    assert.ok(
      text.some((l) => /^GET \/dead 503 UF dead 127\.0\.0\.1:\d+ 0 \d+ HTTP\/1\.1 - - /.test(l)),
      text.join('\n'),
    );

    const json = fs
      .readFileSync(file('json.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(json.length, total);
    const ok = json.find((j) => j.line === 'GET /ok/7')!;
    assert.deepEqual(
      { ...ok, duration: 0, start: '' },
      {
        code: 200,
        flags: '-',
        upstream: { host: `127.0.0.1:${origin.port}`, cluster: 'o' },
        line: 'GET /ok/7',
        duration: 0,
        start: '',
        client: '127.0.0.1',
        tag: 'tag-number-7',
        version: 1,
      },
    );
    assert.equal(typeof ok.duration, 'number');
    assert.ok(!Number.isNaN(Date.parse(ok.start as string)));
    const nr = json.find((j) => j.line === 'GET /nothing-here')!;
    assert.deepEqual(
      [nr.code, nr.flags, nr.upstream, nr.tag],
      [404, 'NR', { host: null, cluster: null }, null],
    );

    const stdout = legate
      .output()
      .split('\n')
      .filter((l) => l.startsWith('STDOUT-LOG '));
    assert.equal(stdout.length, total);
    assert.ok(stdout.includes('STDOUT-LOG 503 /dead'));
  } finally {
    await legate.stop();
    await origin.close();
  }
});

test('access log config errors are located: unknown operator, unknown logger, missing path', async () => {
  const { runLegate } = await import('../integration/harness');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-access-log-'));
  const cfg = path.join(dir, 'bad.yaml');
  fs.writeFileSync(
    cfg,
    httpProxyYaml({
      hcmExtra: `
access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
    log_format: { text_format_source: { inline_string: "%NOPE% %REQ(A?B?C)%" } }
- name: envoy.access_loggers.fil
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    log_format: { json_format: { a: "%DURATIO%" } }`,
      virtualHosts: `- name: all\n  domains: ["*"]`,
      clusters: staticCluster('o', [1]),
    }),
  );
  const r = await runLegate(['--mode', 'validate', '-c', cfg]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /bad\.yaml:\d+:\d+: error: .*access_log\[0\]\.typed_config\.log_format\.text_format_source: unsupported command operator %NOPE%/,
  );
  assert.match(
    r.stderr,
    /access_log\[1\]\.name: unknown or unsupported access logger 'envoy\.access_loggers\.fil'.*did you mean 'envoy\.access_loggers\.file'/,
  );
  assert.match(r.stderr, /access_log\[2\]\.typed_config\.path: .*required/i);
  assert.match(
    r.stderr,
    /access_log\[2\]\.typed_config\.log_format\.json_format: a: unsupported command operator %DURATIO%/,
  );
});
