/**
 * Config errors and warnings of TLS listeners, filter chain matching and listener filters: each
 * located at the field, saying what is wrong or not supported, never silently ignored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorAt, issuesOf, load } from '../config/helpers';
import { certPath, chainYaml, listenerYaml, staticCluster, TLS_INSPECTOR, tlsSocketYaml } from './fixtures';

const L = 'static_resources.listeners[0]';
const TLS_CTX = `${L}.filter_chains[0].transport_socket.typed_config`;
const CLUSTERS = [staticCluster('c', 8080)];

const oneChain = (tls: string, listenerExtra?: string): string =>
  listenerYaml({ chains: [chainYaml({ cluster: 'c', tls })], clusters: CLUSTERS, listenerExtra });

test("a valid TLS listener loads: defaults are Envoy's", () => {
  const { bootstrap } = load(oneChain(tlsSocketYaml({ certs: ['server-rsa', 'server-ec'] })));
  const socket = bootstrap.listeners[0]!.filterChains[0]!.transportSocket!;
  assert.equal(socket.name, 'envoy.transport_sockets.tls');
  const common = (socket.config as { common: Record<string, unknown> }).common;
  assert.equal(common.minVersion, 'TLSv1_2');
  assert.equal(common.maxVersion, 'TLSv1_3');
  assert.deepEqual(common.ecdhCurves, ['X25519', 'P-256']);
  assert.equal((common.cipherSuites as string[])[0], 'ECDHE-ECDSA-AES128-GCM-SHA256');
});

test('raw_buffer is plaintext', () => {
  const raw = `transport_socket:
  name: envoy.transport_sockets.raw_buffer
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer`;
  assert.equal(load(oneChain(raw)).bootstrap.listeners[0]!.filterChains[0]!.transportSocket, null);
});

test('TLS config errors are located and precise', () => {
  const cases: [string, string, RegExp][] = [
    [
      tlsSocketYaml({ common: 'tls_params: { cipher_suites: [NOPE-CIPHER] }' }),
      `${TLS_CTX}.common_tls_context.tls_params.cipher_suites`,
      /unknown TLS 1.0–1.2 cipher suite 'NOPE-CIPHER'/,
    ],
    [
      tlsSocketYaml({ common: 'tls_params: { ecdh_curves: [P-999] }' }),
      `${TLS_CTX}.common_tls_context.tls_params.ecdh_curves`,
      /unknown curve 'P-999'/,
    ],
    [
      tlsSocketYaml({
        common:
          'tls_params: { tls_minimum_protocol_version: TLSv1_3, tls_maximum_protocol_version: TLSv1_2 }',
      }),
      `${TLS_CTX}.common_tls_context.tls_params.tls_minimum_protocol_version`,
      /above the maximum/,
    ],
    [
      tlsSocketYaml({ context: 'session_ticket_keys_sds_secret_config: { name: keys }' }),
      `${TLS_CTX}.session_ticket_keys_sds_secret_config`,
      /not supported by Legate yet/,
    ],
    [
      tlsSocketYaml({ common: 'validation_context: { trusted_ca: { filename: /nonexistent/ca.pem } }' }),
      `${TLS_CTX}.common_tls_context.validation_context.trusted_ca.filename`,
      /cannot read '\/nonexistent\/ca.pem': ENOENT/,
    ],
    [
      tlsSocketYaml({
        common: `validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} }, verify_certificate_hash: [ab] }`,
      }),
      `${TLS_CTX}.common_tls_context.validation_context.verify_certificate_hash`,
      /'ab' is not a SHA-256 hash/,
    ],
    [
      tlsSocketYaml({ common: 'validation_context: { verify_certificate_spki: ["abc="] }' }),
      `${TLS_CTX}.common_tls_context.validation_context.verify_certificate_spki`,
      /not a base64 SHA-256 hash/,
    ],
    [
      tlsSocketYaml({
        common: `validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} }, only_verify_leaf_cert_crl: true }`,
      }),
      `${TLS_CTX}.common_tls_context.validation_context.only_verify_leaf_cert_crl`,
      /not supported.*every certificate of the chain/,
    ],
    [
      tlsSocketYaml({ common: `validation_context: { crl: { filename: ${certPath('ca.crt')} } }` }),
      `${TLS_CTX}.common_tls_context.validation_context.crl`,
      /not PEM CRLs/,
    ],
    [
      tlsSocketYaml({ context: 'require_client_certificate: true' }),
      `${TLS_CTX}.require_client_certificate`,
      /needs .*trusted_ca/,
    ],
    [
      tlsSocketYaml({ certs: [] }),
      `${TLS_CTX}.common_tls_context.tls_certificates`,
      /needs tls_certificates or tls_certificate_sds_secret_configs/,
    ],
  ];
  for (const [tls, path, message] of cases) {
    const issue = errorAt(issuesOf(oneChain(tls)), path);
    assert.match(issue.message, message, path);
  }
  // A key that is not the certificate's.
  const swapped = tlsSocketYaml({}).replace(certPath('server-rsa.key'), certPath('server-b.key'));
  assert.match(
    errorAt(issuesOf(oneChain(swapped)), `${TLS_CTX}.common_tls_context.tls_certificates[0].private_key`)
      .message,
    /does not match certificate_chain/,
  );
});

test('the uws codec cannot serve TLS, several chains or listener filters: an error at legate_http1_codec', () => {
  const tls = listenerYaml({
    chains: [chainYaml({ cluster: 'c', tls: tlsSocketYaml({}) })],
    clusters: CLUSTERS,
    listenerExtra: 'legate_http1_codec: uws',
  });
  assert.match(errorAt(issuesOf(tls), `${L}.legate_http1_codec`).message, /cannot serve TLS/);
  const two = listenerYaml({
    chains: [chainYaml({ cluster: 'c', match: 'destination_port: 1' }), chainYaml({ cluster: 'c' })],
    clusters: CLUSTERS,
    listenerExtra: 'legate_http1_codec: uws',
  });
  assert.match(
    errorAt(issuesOf(two), `${L}.legate_http1_codec`).message,
    /cannot choose among filter chains/,
  );
});

test('filter_chain_match: duplicate rules, bad prefixes, partial wildcards, unsupported fields', () => {
  const dup = listenerYaml({
    chains: [
      chainYaml({ cluster: 'c', match: 'server_names: [a, b]' }),
      chainYaml({ cluster: 'c', match: 'server_names: [b, a]' }),
    ],
    clusters: CLUSTERS,
    listenerExtra: TLS_INSPECTOR,
  });
  assert.match(
    errorAt(issuesOf(dup), `${L}.filter_chains[1].filter_chain_match`).message,
    /filter_chains\[0\] has the same matching rules/,
  );
  const cases: [string, string, RegExp][] = [
    [
      'prefix_ranges: [{ address_prefix: not-an-ip, prefix_len: 8 }]',
      'prefix_ranges[0].address_prefix',
      /not an IP address/,
    ],
    ['prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 33 }]', 'prefix_ranges[0].prefix_len', /33/],
    ['server_names: ["w*.example"]', 'server_names', /only a leading '\*\.' wildcard/],
    ['source_ports: [0]', 'source_ports', /expected ports/],
    ['direct_source_prefix_ranges: []', 'direct_source_prefix_ranges', /not supported by Legate yet/],
  ];
  for (const [match, field, message] of cases) {
    const yaml = listenerYaml({ chains: [chainYaml({ cluster: 'c', match })], clusters: CLUSTERS });
    assert.match(
      errorAt(issuesOf(yaml), `${L}.filter_chains[0].filter_chain_match.${field}`).message,
      message,
      field,
    );
  }
});

test('SNI criteria without tls_inspector: a warning that the chain never matches', () => {
  const yaml = listenerYaml({
    chains: [chainYaml({ cluster: 'c', match: 'server_names: [a.example]' }), chainYaml({ cluster: 'c' })],
    clusters: CLUSTERS,
  });
  const { warnings } = load(yaml);
  assert.ok(
    warnings.some(
      (w) => w.path === `${L}.filter_chains[0].filter_chain_match` && /tls_inspector/.test(w.message),
    ),
    JSON.stringify(warnings),
  );
});

test('criteria no listener filter learns warn, whatever other listener filters run', () => {
  const filter = (name: string): string => `- name: envoy.filters.listener.${name}`;
  const warned = (match: string, filters: string[]): boolean => {
    const yaml = listenerYaml({
      chains: [chainYaml({ cluster: 'c', match }), chainYaml({ cluster: 'c' })],
      clusters: CLUSTERS,
      listenerExtra: filters.length > 0 ? `listener_filters:\n${filters.map(filter).join('\n')}` : '',
    });
    return load(yaml).warnings.some((w) => w.path === `${L}.filter_chains[0].filter_chain_match`);
  };
  const cases: [string, string[], boolean][] = [
    ['server_names: [a.example]', ['proxy_protocol'], true],
    ['server_names: [a.example]', ['proxy_protocol', 'tls_inspector'], false],
    ['transport_protocol: tls', ['http_inspector'], true],
    ['application_protocols: [h2c]', [], true],
    ['application_protocols: [h2c]', ['proxy_protocol'], true],
    ['application_protocols: [h2c]', ['http_inspector'], false],
    ['application_protocols: [h2]', ['tls_inspector'], false],
  ];
  for (const [match, filters, expected] of cases)
    assert.equal(
      warned(match, filters),
      expected,
      `${match} with ${filters.join(', ') || 'no listener filters'}`,
    );
});

test('listener filters: unknown ones are errors naming what Legate has', () => {
  const yaml = oneChain(tlsSocketYaml({}), 'listener_filters:\n- name: envoy.filters.listener.original_dst');
  const issue = errorAt(issuesOf(yaml), `${L}.listener_filters[0].name`);
  assert.match(issue.message, /unknown or unsupported listener filter 'envoy.filters.listener.original_dst'/);
  assert.match(issue.hint ?? '', /tls_inspector/);
});

test('UpstreamTlsContext errors: renegotiation, two client certificates', () => {
  const cluster = (tls: string, extra = ''): string =>
    listenerYaml({
      chains: [chainYaml({ cluster: 'c' })],
      clusters: [
        `${staticCluster('c', 8080)}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
${tls
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
${extra}`,
      ],
    });
  const C = 'static_resources.clusters[0]';
  const cert = `{ certificate_chain: { filename: ${certPath('client.crt')} }, private_key: { filename: ${certPath('client.key')} } }`;
  const cases: [string, string, string, RegExp][] = [
    ['allow_renegotiation: true', '', `${C}.transport_socket.typed_config.allow_renegotiation`, /false only/],
    [
      `common_tls_context: { tls_certificates: [${cert}, ${cert}] }`,
      '',
      `${C}.transport_socket.typed_config.common_tls_context.tls_certificates`,
      /one client certificate/,
    ],
  ];
  for (const [tls, extra, path, message] of cases)
    assert.match(errorAt(issuesOf(cluster(tls, extra)), path).message, message, path);
  const ok = load(cluster('sni: a.example')).bootstrap.clusters[0]!;
  assert.equal(ok.transportSocket?.name, 'envoy.transport_sockets.tls');
});

test('proxy_protocol: what Legate cannot do is a located error', () => {
  const filter = (fields: string): string =>
    listenerYaml({
      chains: [chainYaml({ cluster: 'c' })],
      clusters: CLUSTERS,
      listenerExtra: `listener_filters:
- name: envoy.filters.listener.proxy_protocol
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol
    ${fields}`,
    });
  const at = `${L}.listener_filters[0].typed_config`;
  const cases: [string, string, RegExp][] = [
    ['rules: [{ tlv_type: 4, on_tlv_present: { key: k } }]', 'rules', /not supported.*metadata/],
    ['pass_through_tlvs: { match_type: INCLUDE_ALL }', 'pass_through_tlvs', /not supported/],
    ['disallowed_versions: [V3]', 'disallowed_versions', /'V3' is not a version: V1 or V2/],
    ['allow_requests_without_proxy_protocl: true', 'allow_requests_without_proxy_protocl', /unknown field/],
  ];
  for (const [fields, field, message] of cases)
    assert.match(errorAt(issuesOf(filter(fields)), `${at}.${field}`).message, message, fields);
  const config = load(filter('rules: []\n    stat_prefix: edge')).bootstrap.listeners[0]!.listenerFilters[0]!
    .config;
  assert.deepEqual(config, {
    allowRequestsWithoutProxyProtocol: false,
    disallowedVersions: [],
    statPrefix: 'proxy_proto.edge.',
  });
});
