import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderMap } from '../../src/http/header-map';
import type { AccessLogger, AccessLogStream } from '../../src/access-log/api';
import { FormattedLogger } from '../../src/access-log/access-logs';
import { planProxiedResponses } from '../../src/filters/network/http-connection-manager/connection-manager';
import { DEFAULT_FORMAT, compileFormat, formatText } from '../../src/access-log/format-string';
import { compileLogFormat } from '../../src/access-log/log-format';

function stream(over: Partial<AccessLogStream> = {}): AccessLogStream {
  const headers = new HeaderMap();
  headers.set('host', 'example.com');
  headers.set('user-agent', 'curl/8');
  headers.set('x-request-id', 'rid');
  const resp = new HeaderMap();
  resp.set('x-envoy-upstream-service-time', '3');
  return {
    remoteAddress: '10.0.0.1',
    remotePort: 5555,
    directRemoteAddress: '192.0.2.7',
    directRemotePort: 4444,
    localAddress: '::1',
    localPort: 80,
    protocol: 'HTTP/1.1',
    startTimeMs: Date.UTC(2024, 1, 29, 13, 4, 5, 678),
    requestHeaders: headers,
    request: {
      method: 'GET',
      path: '/a?b=1',
      protocol: 'HTTP/1.1',
      headers,
      keepAlive: true,
      contentLength: -1,
      chunked: false,
    },
    responseHeader: (name: string) => resp.get(name),
    responseCode: 200,
    responseFlags: '-',
    bytesReceived: 0,
    bytesSent: 42,
    durationMs: 7,
    upstreamHost: '10.1.1.1:8080',
    upstreamCluster: 'svc',
    route: () => null,
    ...over,
  } as AccessLogStream;
}

test("Envoy's default format", () => {
  assert.equal(
    formatText(compileFormat(DEFAULT_FORMAT), stream()),
    '[2024-02-29T13:04:05.678Z] "GET /a?b=1 HTTP/1.1" 200 - 0 42 7 3 "-" "curl/8" "rid" "example.com" "10.1.1.1:8080"\n',
  );
});

test('operators: headers with fallback and truncation, pseudo-headers, addresses, START_TIME formats, %%', () => {
  const f = (fmt: string, s = stream()): string => formatText(compileFormat(fmt), s);
  assert.equal(
    f('%REQ(X-MISSING?USER-AGENT):4%|%REQ(:AUTHORITY)%|%REQ(:SCHEME)%|%RESP(:STATUS)%'),
    'curl|example.com|http|200',
  );
  assert.equal(
    f('%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%'),
    '10.0.0.1:5555 [::1]:80 ::1',
  );
  assert.equal(
    f('%DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%'),
    '192.0.2.7:4444 192.0.2.7',
  );
  assert.equal(
    f('%START_TIME(%Y/%m/%dT%H:%M:%S.%3f %z %j %s)%'),
    '2024/02/29T13:04:05.678 +0000 060 1709211845',
  );
  assert.equal(f('%START_TIME(%E3S)%'), '05.678');
  assert.equal(f('100%% %UPSTREAM_CLUSTER%'), '100% svc');
  assert.equal(
    f(
      '%UPSTREAM_HOST% %RESP(X-NONE)% %ROUTE_NAME% %PROTOCOL%',
      stream({ upstreamHost: '', request: null, responseHeader: () => undefined, protocol: '' }),
    ),
    '- - - -',
  );
  for (const bad of ['%NOPE%', '%REQ%', '%REQ(A?B?C)%', '50%', '%START_TIME(%Q)%', '%DURATION(x)%']) {
    assert.throws(() => compileFormat(bad), Error, bad);
  }
});

test('JSON format: single operators keep their type, missing values are null, omit_empty_values drops them', () => {
  const template = {
    code: '%RESPONSE_CODE%',
    host: '%UPSTREAM_HOST%',
    mixed: 'x %RESPONSE_CODE% %UPSTREAM_HOST%',
    n: { ua: '%REQ(USER-AGENT)%' },
    k: 1,
    b: true,
  };
  const s = stream({ upstreamHost: '' });
  assert.deepEqual(
    JSON.parse(compileLogFormat({ kind: 'json', template, omitEmptyValues: false }).format(s)),
    {
      code: 200,
      host: null,
      mixed: 'x 200 -',
      n: { ua: 'curl/8' },
      k: 1,
      b: true,
    },
  );
  const omitted = compileLogFormat({ kind: 'json', template, omitEmptyValues: true }).format(s);
  assert.ok(omitted.endsWith('}\n'));
  assert.equal('host' in JSON.parse(omitted), false);
  assert.equal(
    compileLogFormat({ kind: 'text', format: '[%UPSTREAM_HOST%]', omitEmptyValues: true }).format(s),
    '[]',
  );
});

test('the response headers a format reads: RESP names and fallbacks, text and JSON, not :status', () => {
  const text = (format: string): readonly string[] =>
    compileLogFormat({ kind: 'text', format, omitEmptyValues: false }).responseHeadersRead;
  assert.deepEqual(text(DEFAULT_FORMAT), ['x-envoy-upstream-service-time']);
  assert.deepEqual(text('%RESP(:STATUS)% %REQ(CONTENT-TYPE)% %RESPONSE_CODE%'), []);
  assert.deepEqual(text('%RESP(X-A?X-B):3%'), ['x-a', 'x-b']);
  const json = compileLogFormat({
    kind: 'json',
    template: { a: '%RESP(Content-Type)%', nested: { b: 'x %RESP(ETag)%' }, c: 1 },
    omitEmptyValues: false,
  });
  assert.deepEqual(json.responseHeadersRead, ['content-type', 'etag']);
});

test('a connection manager writes proxied heads natively unless a filter or an access log needs the head', () => {
  const config = {
    serverHeaderTransformation: 'OVERWRITE',
    serverName: 'legate',
    alwaysSetRequestIdInResponse: false,
    via: '',
  } as const;
  const logger = (format: string): AccessLogger =>
    new FormattedLogger(compileLogFormat({ kind: 'text', format, omitEmptyValues: false }), { write() {} });
  const plan = { serverMode: 'OVERWRITE', serverName: 'legate' };
  assert.deepEqual(planProxiedResponses(config, 1, []), plan);
  assert.deepEqual(
    planProxiedResponses(config, 1, [logger(DEFAULT_FORMAT), logger('%RESP(:STATUS)%')]),
    plan,
  );
  assert.equal(
    planProxiedResponses(config, 1, [logger(DEFAULT_FORMAT), logger('%RESP(CONTENT-TYPE)%')]),
    null,
  );
  assert.equal(planProxiedResponses(config, 2, []), null);
  assert.equal(planProxiedResponses({ ...config, serverName: 'bad\r\nname' }, 1, []), null);
  assert.equal(planProxiedResponses({ ...config, via: 'legate' }, 1, []), null, 'Via on responses');
  assert.equal(planProxiedResponses({ ...config, alwaysSetRequestIdInResponse: true }, 1, []), null);
});
