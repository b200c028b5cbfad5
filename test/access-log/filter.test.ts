/**
 * `access_log[].filter` (Envoy's AccessLogFilter): only the streams a filter matches are logged.
 * One proxy, one file logger per filter over the same requests: status code, duration, request
 * header, response flag, and/or, runtime sampling at 0 % and 100 %; unsupported filters are config
 * errors naming the field.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  accessLogLines,
  catchAllYaml,
  httpProxyYaml,
  request,
  staticCluster,
  runLegate,
  startLegate,
  startOrigin,
  type LegateProcess,
  type Origin,
} from '../integration/harness';

const FILTERS: Record<string, string> = {
  errors: '{ status_code_filter: { comparison: { op: GE, value: { default_value: 400, runtime_key: k } } } }',
  not_404:
    '{ status_code_filter: { comparison: { op: NE, value: { default_value: 404, runtime_key: k } } } }',
  slow: '{ duration_filter: { comparison: { op: GE, value: { default_value: 200, runtime_key: k } } } }',
  tagged: '{ header_filter: { header: { name: x-log, string_match: { exact: "yes" } } } }',
  flagged: '{ response_flag_filter: {} }',
  no_route: '{ response_flag_filter: { flags: [NR] } }',
  both: `{ and_filter: { filters: [${'{ header_filter: { header: { name: x-log, present_match: true } } }'}, ${'{ status_code_filter: { comparison: { op: EQ, value: { default_value: 200, runtime_key: k } } } }'}] } }`,
  either: `{ or_filter: { filters: [${'{ response_flag_filter: { flags: [NR] } }'}, ${'{ header_filter: { header: { name: x-log, present_match: true } } }'}] } }`,
  none: '{ runtime_filter: { runtime_key: k, percent_sampled: { numerator: 0 } } }',
  all: '{ runtime_filter: { runtime_key: k, percent_sampled: { numerator: 100 } } }',
  healthy: '{ not_health_check_filter: {} }',
};

let origin: Origin;
let legate: LegateProcess;
let dir: string;

function accessLogs(): string {
  return `access_log:\n${Object.entries(FILTERS)
    .map(
      ([name, filter]) => `- name: envoy.access_loggers.file
  filter: ${filter}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${path.join(dir, `${name}.log`)}
    log_format: { text_format_source: { inline_string: "%REQ(:PATH)%\\n" } }`,
    )
    .join('\n')}`;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-log-filter-'));
  origin = await startOrigin((req, res) => {
    const status = Number(/\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
    const answer = (): void => {
      res.statusCode = status;
      res.end('x');
    };
    if (req.url?.includes('slow')) setTimeout(answer, 300);
    else answer();
  });
  // Only /r/… has a route: /missing is answered 404 with the NR flag.
  const yaml = httpProxyYaml({
    hcmExtra: accessLogs(),
    virtualHosts:
      '- { name: all, domains: ["*"], routes: [{ match: { prefix: "/r/" }, route: { cluster: o } }] }',
    clusters: staticCluster('o', [origin.port]),
  });
  legate = await startLegate(yaml, { concurrency: 1 });
  const port = legate.ports.get('proxy')!;
  // In order: a plain 200, a 503, a slow 200, a tagged 200, a tagged 404, an unrouted one (NR).
  await request(port, { path: '/r/200' });
  await request(port, { path: '/r/503' });
  await request(port, { path: '/r/200/slow' });
  await request(port, { path: '/r/200/tagged', headers: { 'x-log': 'yes' } });
  await request(port, { path: '/r/404/tagged', headers: { 'x-log': 'no' } });
  await request(port, { path: '/missing' });
});

after(async () => {
  await legate.stop();
  await origin.close();
});

async function logged(name: string, count: number): Promise<string[]> {
  if (count === 0) {
    // Nothing expected: wait for a logger that logs everything, then look.
    await accessLogLines(path.join(dir, 'all.log'), 6);
    const file = path.join(dir, `${name}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }
  return accessLogLines(path.join(dir, `${name}.log`), count);
}

test('each logger logs only what its filter matches', async () => {
  assert.deepEqual(await logged('all', 6), [
    '/r/200',
    '/r/503',
    '/r/200/slow',
    '/r/200/tagged',
    '/r/404/tagged',
    '/missing',
  ]);
  assert.deepEqual(await logged('errors', 3), ['/r/503', '/r/404/tagged', '/missing']);
  assert.deepEqual(await logged('not_404', 4), ['/r/200', '/r/503', '/r/200/slow', '/r/200/tagged']);
  assert.deepEqual(await logged('slow', 1), ['/r/200/slow']);
  assert.deepEqual(await logged('tagged', 1), ['/r/200/tagged']);
  assert.deepEqual(await logged('both', 1), ['/r/200/tagged']);
  assert.deepEqual(await logged('healthy', 6), await logged('all', 6));
  assert.deepEqual(await logged('none', 0), []);
});

test('response_flag_filter: any flag, or the ones listed; or_filter', async () => {
  assert.deepEqual(await logged('flagged', 1), ['/missing']);
  assert.deepEqual(await logged('no_route', 1), ['/missing']);
  assert.deepEqual(await logged('either', 3), ['/r/200/tagged', '/r/404/tagged', '/missing']);
});

test('unsupported filters are config errors at the field', async () => {
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(
    file,
    catchAllYaml([origin.port], {
      hcmExtra: `access_log:
- name: envoy.access_loggers.stdout
  filter: { grpc_status_filter: { statuses: [OK] } }
  typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }`,
    }),
  );
  const r = await runLegate(['-c', file, '--mode', 'validate']);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /access_log\[0\]\.filter\.grpc_status_filter/);
});
