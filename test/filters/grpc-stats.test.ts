/**
 * envoy.filters.http.grpc_stats with @grpc/grpc-js on both ends (HTTP/2 listener, HTTP/2 cluster):
 * per-method stats for allowlisted methods and `cluster.<c>.grpc.*` for the others, Envoy's names,
 * message counts of each kind of stream, success and failure, upstream_rq_time, dots replaced.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  admin,
  httpProxyYaml,
  runLegate,
  startLegate,
  stat,
  staticCluster,
  type LegateProcess,
} from '../integration/harness';
import { insertHttpFilters } from './filter-yaml';
import { ECHO_SERVICE, H2_CLUSTER, bindInsecure } from '../support/grpc-echo';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyClient = grpc.Client & Record<string, any>;
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

let server: grpc.Server;
let grpcPort = 0;
const started: { lp: LegateProcess; client: AnyClient }[] = [];

function yaml(filterFields: string): string {
  return insertHttpFilters(
    httpProxyYaml({
      hcmExtra: 'codec_type: HTTP2',
      virtualHosts: `- name: all
  domains: ["*"]
  routes:
  - match: { prefix: / }
    route: { cluster: grpc, timeout: 0s }`,
      clusters: staticCluster('grpc', [grpcPort], H2_CLUSTER),
    }),
    `
- name: envoy.filters.http.grpc_stats
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig
${filterFields
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}`,
  );
}

async function start(filterFields: string): Promise<{ lp: LegateProcess; client: AnyClient }> {
  const lp = await startLegate(yaml(filterFields), { concurrency: 1 });
  const client = new EchoClient(
    `127.0.0.1:${lp.ports.get('proxy')!}`,
    grpc.credentials.createInsecure(),
  ) as AnyClient;
  started.push({ lp, client });
  return { lp, client };
}

before(async () => {
  server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      if (call.request.toString() === 'fail')
        return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail' });
      cb(null, call.request);
    },
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < Number(call.request.toString()); i++) call.write(Buffer.alloc(70_000, i));
      call.end();
    },
    clientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let n = 0;
      call.on('data', () => n++);
      call.on('end', () => cb(null, Buffer.from(String(n))));
    },
    bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(b));
      call.on('end', () => call.end());
    },
  });
  grpcPort = await bindInsecure(server);
});

after(async () => {
  for (const { lp, client } of started) {
    client.close();
    await lp.stop();
  }
  server?.forceShutdown();
});

function unary(client: AnyClient, text: string): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) =>
    client.unary(Buffer.from(text), (err: grpc.ServiceError | null) => resolve(err)),
  );
}

function serverStream(client: AnyClient, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const call = client.serverStream(Buffer.from(String(n)));
    call.on('data', () => got++);
    call.on('end', () => resolve(got));
    call.on('error', reject);
  });
}

function clientStream(client: AnyClient, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const call = client.clientStream((err: grpc.ServiceError | null, r: Buffer) =>
      err ? reject(err) : resolve(r.toString()),
    );
    // Messages of 1 to 40,000 bytes: frames across DATA frames, several in one.
    for (let i = 0; i < n; i++) call.write(Buffer.alloc(i === 1 ? 40_000 : 1 + i, 'c'));
    call.end();
  });
}

function bidi(client: AnyClient, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const call = client.bidi();
    call.on('data', () => {
      if (++got < n) call.write(Buffer.from('again'));
      else call.end();
    });
    call.on('end', () => resolve(got));
    call.on('error', reject);
    call.write(Buffer.from('first'));
  });
}

async function stats(lp: LegateProcess, prefix: string, names: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = await stat(lp, `${prefix}${n}`);
  return out;
}

const ALL = ['total', 'success', 'failure', 'request_message_count', 'response_message_count'];

test('allowlisted methods get their own stats, the others cluster.<c>.grpc.*; every kind of stream', async () => {
  const { lp, client } = await start(`individual_method_stats_allowlist:
  services:
  - name: test.Echo
    method_names: [Unary, ServerStream, ClientStream]
enable_upstream_stats: true`);
  assert.equal(await unary(client, 'one'), null);
  assert.equal(await unary(client, 'two'), null);
  assert.equal((await unary(client, 'fail'))?.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(await serverStream(client, 5), 5);
  assert.equal(await clientStream(client, 4), '4');
  assert.equal(await bidi(client, 3), 3);

  const method = 'cluster.grpc.grpc.test.Echo.';
  assert.deepEqual(await stats(lp, `${method}Unary.`, [...ALL, '0', '9']), {
    total: 3,
    success: 2,
    failure: 1,
    request_message_count: 3,
    response_message_count: 2,
    '0': 2,
    '9': 1,
  });
  assert.deepEqual(await stats(lp, `${method}ServerStream.`, ALL), {
    total: 1,
    success: 1,
    failure: 0,
    request_message_count: 1,
    response_message_count: 5,
  });
  assert.deepEqual(await stats(lp, `${method}ClientStream.`, ALL), {
    total: 1,
    success: 1,
    failure: 0,
    request_message_count: 4,
    response_message_count: 1,
  });
  // Bidi is not on the list: counted without a method name.
  assert.deepEqual(await stats(lp, 'cluster.grpc.grpc.', ALL), {
    total: 1,
    success: 1,
    failure: 0,
    request_message_count: 3,
    response_message_count: 3,
  });
  const histograms = (await admin(lp, '/stats?filter=upstream_rq_time')).body.toString();
  assert.match(histograms, /^cluster\.grpc\.grpc\.test\.Echo\.Unary\.upstream_rq_time: P0\(/m);
  assert.doesNotMatch(
    histograms,
    /^cluster\.grpc\.grpc\.test\.Echo\.Unary\.upstream_rq_time: No recorded values/m,
  );
});

test('replace_dots_in_grpc_service_name; no allowlist: every call under cluster.<c>.grpc.', async () => {
  const dots = await start(`individual_method_stats_allowlist:
  services: [{ name: test.Echo, method_names: [Unary] }]
replace_dots_in_grpc_service_name: true`);
  assert.equal(await unary(dots.client, 'x'), null);
  assert.equal(await stat(dots.lp, 'cluster.grpc.grpc.test_Echo.Unary.total'), 1);
  assert.equal(await stat(dots.lp, 'cluster.grpc.grpc.total'), 0);

  const plain = await start('stats_for_all_methods: false');
  assert.equal(await unary(plain.client, 'x'), null);
  assert.equal((await unary(plain.client, 'fail'))?.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(await serverStream(plain.client, 2), 2);
  assert.deepEqual(await stats(plain.lp, 'cluster.grpc.grpc.', [...ALL, '0', '9']), {
    total: 3,
    success: 2,
    failure: 1,
    request_message_count: 3,
    response_message_count: 3,
    '0': 2,
    '9': 1,
  });
});

test('stats_for_all_methods: true and emit_filter_state: true are refused with a reason', async () => {
  for (const [fields, reason] of [
    ['stats_for_all_methods: true', /stats_for_all_methods.*individual_method_stats_allowlist/],
    ['emit_filter_state: true', /emit_filter_state.*filter state/],
  ] as const) {
    const r = await runLegate(['--mode', 'validate', '--config-yaml', yaml(fields)]);
    assert.notEqual(r.code, 0, fields);
    assert.match(r.stderr + r.stdout, reason, fields);
  }
});
