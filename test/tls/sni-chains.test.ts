/**
 * Several filter chains on one listener, chosen by tls_inspector's SNI and transport protocol:
 * TLS termination with a certificate per name (exact and `*.` wildcard), TLS passthrough to a TLS
 * origin through tcp_proxy (splice relay when the addon is active: the peeked ClientHello still
 * reaches the origin), plaintext HTTP on the same port, the default chain, and no match (closed,
 * counted). Also with curl and openssl s_client, when installed.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import * as tls from 'node:tls';
import { after, before, test } from 'node:test';
import {
  startOrigin,
  stat,
  startLegate,
  request,
  type LegateProcess,
  type Origin,
} from '../integration/harness';
import { addonActive, startEcho } from '../l4/fixtures';
import { requireTool } from '../support/system-tools';
import {
  certPath,
  chainYaml,
  GET,
  listenerYaml,
  pem,
  rawTcp,
  staticCluster,
  TLS_INSPECTOR,
  tlsClient,
  tlsSocketYaml,
} from './fixtures';

const execFileAsync = promisify(execFile);

/** A TLS origin (ECDSA certificate) that answers every line with `passthrough:<sha256 of what it got>` at the end. */
async function startTlsOrigin(): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer(
    { cert: pem('server-ec.crt'), key: pem('server-ec.key'), allowHalfOpen: true },
    (s) => {
      const hash = createHash('sha256');
      let bytes = 0;
      s.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
      });
      s.on('end', () => s.end(`passthrough ${bytes} ${hash.digest('hex')}`));
      s.on('error', () => {});
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let origin: Origin;
let tlsOrigin: Awaited<ReturnType<typeof startTlsOrigin>>;
let lp: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin();
  tlsOrigin = await startTlsOrigin();
  const yaml = listenerYaml({
    listenerExtra: TLS_INSPECTOR,
    chains: [
      chainYaml({
        cluster: 'origin',
        match: 'server_names: [a.example, "*.wild.example"]',
        tls: tlsSocketYaml({ certs: ['server-rsa'] }),
        statPrefix: 'a',
      }),
      chainYaml({
        cluster: 'origin',
        match: 'server_names: [b.example]',
        tls: tlsSocketYaml({ certs: ['server-b'] }),
        statPrefix: 'b',
      }),
      chainYaml({
        cluster: 'tls_origin',
        kind: 'tcp',
        match: 'server_names: [pass.example]',
        statPrefix: 'pass',
      }),
      chainYaml({
        cluster: 'origin',
        match: 'transport_protocol: tls',
        tls: tlsSocketYaml({ certs: ['server-ec'] }),
        statPrefix: 'other_tls',
      }),
      chainYaml({ cluster: 'origin', match: 'transport_protocol: raw_buffer', statPrefix: 'plain' }),
    ],
    clusters: [staticCluster('origin', origin.port), staticCluster('tls_origin', tlsOrigin.port)],
  });
  lp = await startLegate(yaml, { concurrency: 1 });
  port = lp.ports.get('proxy')!;
});

after(async () => {
  await lp.stop();
  await origin.close();
  await tlsOrigin.close();
});

test('SNI picks the chain and its certificate: exact, wildcard, another name, none', async () => {
  const cases: [string, string, string][] = [
    ['a.example', 'a.example', 'RSA'],
    ['deep.x.wild.example', 'a.example', 'RSA'],
    ['b.example', 'b.example', 'RSA'],
    // No chain names it: the TLS chain without server_names serves it.
    ['c.example', 'a.example', 'EC'],
  ];
  for (const [sni, cn, keyType] of cases) {
    const r = await tlsClient(port, {
      servername: sni,
      checkServerIdentity: () => undefined,
      request: GET('/', sni),
    });
    assert.equal(r.error, '', sni);
    assert.equal(r.serverCn, cn, sni);
    assert.equal(r.serverKeyType, keyType, sni);
    assert.match(r.response, /^HTTP\/1\.1 200 /, sni);
  }
  // An IP literal sends no SNI.
  const none = await tlsClient(port, {
    servername: '',
    checkServerIdentity: () => undefined,
    request: GET(),
  });
  assert.equal(none.serverKeyType, 'EC');
  assert.match(none.response, /^HTTP\/1\.1 200 /);
  assert.equal(await stat(lp, 'http.a.downstream_rq_total'), 2);
  assert.equal(await stat(lp, 'http.b.downstream_rq_total'), 1);
  assert.equal(await stat(lp, 'http.other_tls.downstream_rq_total'), 2);
  assert.ok((await stat(lp, 'tls_inspector.sni_found')) >= 4);
});

test('plaintext HTTP on the same port goes to the raw_buffer chain', async () => {
  assert.match(lp.output(), /listener 'proxy' listening on \S+ \(legate codec, 5 filter chains, TLS on 3\)/);
  const r = await request(port, { path: '/plain' });
  assert.equal(r.status, 200);
  assert.match(r.body.toString(), /GET \/plain/);
  assert.ok((await stat(lp, 'http.plain.downstream_rq_total')) >= 1);
});

/**
 * Sends `payload` through the passthrough chain `delayMs` after the handshake and returns the
 * origin's answer (bounded: a relay that loses bytes fails instead of hanging).
 */
function passthrough(payload: Buffer, delayMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tls.connect(
      {
        host: '127.0.0.1',
        port,
        servername: 'pass.example',
        ca: pem('ca.crt'),
        checkServerIdentity: () => undefined,
      },
      () => {
        if (delayMs === 0) socket.end(payload);
        else setTimeout(() => socket.end(payload), delayMs);
      },
    );
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('passthrough: no answer within 10 s')), 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
  });
}

const expected = (payload: Buffer): string =>
  `passthrough ${payload.length} ${createHash('sha256').update(payload).digest('hex')}`;

test('TLS passthrough by SNI: the origin terminates, the proxy relays the bytes unchanged (1 MiB)', async () => {
  if (addonActive()) assert.match(lp.output(), /tcp_proxy 'pass' relays with splice/);
  const payload = randomBytes(1 << 20);
  assert.equal(await passthrough(payload, 0), expected(payload));
  assert.equal(await stat(lp, 'tcp.pass.downstream_cx_total'), 1);
});

test('TLS passthrough: bytes a client sends once the relay runs (it waited 200 ms) reach the origin', async () => {
  // Regression: the inspected socket's stream read-ahead restarted libuv's reads, which then took
  // bytes from under the splice relay (curl and openssl s_client hung until the origin timed out).
  for (const size of [100, 100_000]) {
    const payload = randomBytes(size);
    assert.equal(await passthrough(payload, 200), expected(payload), `${size} bytes`);
  }
});

test('bad input to the inspecting listener: garbage (plaintext chain answers 400), a stalled ClientHello (closed at listener_filters_timeout)', async () => {
  const garbage = await rawTcp(port, 'NOT HTTP AT ALL\r\n\r\n');
  assert.match(garbage.received.toString('latin1'), /^HTTP\/1\.1 400 /);
  const truncated = Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00]);
  // The default listener_filters_timeout is 15 s; this listener keeps it, so the probe only checks nothing breaks meanwhile.
  const during = await Promise.all([rawTcp(port, truncated, 300), tlsClient(port, { request: GET() })]);
  assert.equal(during[0].closed, 'timeout', 'the stalled connection waits for its ClientHello');
  assert.match(during[1].response, /^HTTP\/1\.1 200 /, 'other connections are served meanwhile');
});

test('no chain matches: closed and counted in no_filter_chain_match; default_filter_chain serves instead', async () => {
  const chains = [
    chainYaml({
      cluster: 'origin',
      match: 'server_names: [a.example]',
      tls: tlsSocketYaml({}),
      statPrefix: 'a',
    }),
    chainYaml({ cluster: 'origin', match: 'transport_protocol: raw_buffer', statPrefix: 'plain' }),
  ];
  const clusters = [staticCluster('origin', origin.port)];
  const timeout = 'listener_filters_timeout: 0.3s';
  const strict = await startLegate(
    listenerYaml({ listenerExtra: `${TLS_INSPECTOR}\n${timeout}`, chains, clusters }),
    { concurrency: 1 },
  );
  try {
    const p = strict.ports.get('proxy')!;
    const r = await tlsClient(p, { servername: 'c.example', request: GET() });
    assert.equal(r.ok, false);
    assert.equal(await stat(strict, 'listener.127.0.0.1_0.no_filter_chain_match'), 1);
    // A ClientHello that never completes: closed at listener_filters_timeout, counted.
    const stalled = await rawTcp(p, Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]), 5000);
    assert.notEqual(stalled.closed, 'timeout');
    assert.equal(await stat(strict, 'listener.127.0.0.1_0.downstream_pre_cx_timeout'), 1);
    assert.match((await tlsClient(p, { request: GET() })).response, /^HTTP\/1\.1 200 /);
  } finally {
    await strict.stop();
  }
  const defaultChain = `default_filter_chain:\n${chainYaml({ cluster: 'origin', tls: tlsSocketYaml({ certs: ['server-b'] }), statPrefix: 'dflt' }).replace(/^- /, '  ')}`;
  const withDefault = await startLegate(
    listenerYaml({ listenerExtra: `${TLS_INSPECTOR}\n${defaultChain}`, chains, clusters }),
    { concurrency: 1 },
  );
  try {
    const p = withDefault.ports.get('proxy')!;
    const r = await tlsClient(p, {
      servername: 'c.example',
      checkServerIdentity: () => undefined,
      request: GET(),
    });
    assert.equal(r.serverCn, 'b.example');
    assert.match(r.response, /^HTTP\/1\.1 200 /);
    assert.equal(await stat(withDefault, 'listener.127.0.0.1_0.no_filter_chain_match'), 0);
    assert.equal(await stat(withDefault, 'http.dflt.downstream_rq_total'), 1);
  } finally {
    await withDefault.stop();
  }
});

test('curl: --resolve sets SNI, --cacert verifies the chain it picked', async (t) => {
  const curl = requireTool(t, 'curl');
  if (curl === null) return;
  for (const name of ['a.example', 'b.example']) {
    // Asynchronously: the origin answering curl runs in this process.
    const r = await execFileAsync(curl, [
      '-sv',
      '--max-time',
      '5',
      '--cacert',
      certPath('ca.crt'),
      '--resolve',
      `${name}:${port}:127.0.0.1`,
      `https://${name}:${port}/curl`,
    ]);
    assert.match(r.stdout, /GET \/curl/);
    assert.match(r.stderr, new RegExp(`subject:.*CN ?= ?${name.replace('.', '\\.')}`));
  }
});

test('openssl s_client: SNI, ALPN offer, TLS 1.2 and 1.3', (t) => {
  const openssl = requireTool(t, 'openssl');
  if (openssl === null) return;
  const cases: [string[], RegExp][] = [
    [['-servername', 'b.example', '-tls1_3'], /CN ?= ?b\.example[\s\S]*TLSv1\.3/],
    [['-servername', 'a.example', '-tls1_2', '-alpn', 'h2,http/1.1'], /CN ?= ?a\.example[\s\S]*TLSv1\.2/],
  ];
  for (const [args, expect] of cases) {
    const r: SpawnSyncReturns<string> = spawnSync(
      openssl,
      ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', certPath('ca.crt'), ...args],
      {
        input: '',
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    assert.match(r.stdout + r.stderr, expect, args.join(' '));
    assert.match(r.stdout, /Verify return code: 0 \(ok\)/, args.join(' '));
  }
});

test('continue_on_listener_filters_timeout: an unfinished ClientHello is served by the plaintext chain, its bytes first', async () => {
  const echo = await startEcho();
  const yaml = listenerYaml({
    listenerExtra: `${TLS_INSPECTOR}\nlistener_filters_timeout: 0.3s\ncontinue_on_listener_filters_timeout: true`,
    chains: [
      chainYaml({ cluster: 'origin', match: 'transport_protocol: tls', tls: tlsSocketYaml({}) }),
      chainYaml({ cluster: 'echo', kind: 'tcp', match: 'transport_protocol: raw_buffer', statPrefix: 'raw' }),
    ],
    clusters: [staticCluster('origin', origin.port), staticCluster('echo', echo.port)],
  });
  const lenient = await startLegate(yaml, { concurrency: 1 });
  try {
    const partial = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01]);
    // The echo returns what reached it: the peeked bytes, after the timeout picked the raw chain.
    const r = await rawTcp(lenient.ports.get('proxy')!, partial, 3000);
    assert.deepEqual(r.received, partial);
    assert.equal(await stat(lenient, 'listener.127.0.0.1_0.downstream_pre_cx_timeout'), 1);
  } finally {
    await lenient.stop();
    await echo.close();
  }
});
