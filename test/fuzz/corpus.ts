/**
 * Every valid config the tests can reach, as text: the YAML files of examples/ and test/ (found at
 * run time, so a file added later joins in), and the output of the tests' config builders. The
 * validate-then-start test runs each of them, and the config fuzzer mutates them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../repo-root';
import { TCP_PROXY_FILTER, listenerYaml, minimalConfig, withListeners } from '../config/helpers';
import { catchAllYaml, healthChecksYaml, httpProxyYaml, staticCluster } from '../integration/harness';
import { tcpProxyYaml } from '../l4/fixtures';
import {
  certPath,
  chainYaml,
  listenerYaml as tlsListenerYaml,
  staticCluster as tlsStaticCluster,
  TLS_INSPECTOR,
  tlsSocketYaml,
} from '../tls/fixtures';

export interface CorpusConfig {
  /** Where it comes from: a repo-relative path, or `builder:<what>`. */
  readonly name: string;
  readonly text: string;
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yamlFiles(path, out);
    else if (/\.ya?ml$/.test(entry)) out.push(path);
  }
  return out;
}

/** The YAML files under examples/ and test/ (the sources, not dist/). */
export function corpusFiles(): CorpusConfig[] {
  return [...yamlFiles(join(REPO_ROOT, 'examples')), ...yamlFiles(join(REPO_ROOT, 'test'))]
    .sort()
    .map((path) => ({ name: relative(REPO_ROOT, path), text: readFileSync(path, 'utf8') }));
}

/** Configs made by the tests' builders, with the options that change their shape. */
export function builderConfigs(): CorpusConfig[] {
  const built: [string, string][] = [
    ['minimalConfig', minimalConfig()],
    [
      'minimalConfig with route options',
      minimalConfig({
        route: 'route: { cluster: c0, prefix_rewrite: /x, timeout: 3s }',
        moreRoutes: '- match: { prefix: /r }\n  redirect: { https_redirect: true }',
        hcm: 'stream_idle_timeout: 10s',
        cluster: 'lb_policy: LEAST_REQUEST',
      }),
    ],
    ['withListeners(tcp_proxy)', withListeners(listenerYaml('t', '127.0.0.1', 0, TCP_PROXY_FILTER))],
    ['catchAllYaml', catchAllYaml([8080, 8081])],
    ['catchAllYaml with priorities', catchAllYaml([[8080], [8081]], { clusterExtra: 'lb_policy: RANDOM' })],
    [
      'httpProxyYaml with health checks',
      httpProxyYaml({
        virtualHosts:
          '- name: v\n  domains: ["*"]\n  routes:\n  - match: { prefix: / }\n    route: { cluster: h }',
        clusters: staticCluster('h', [8080], healthChecksYaml('http_health_check: { path: /hc }')),
      }),
    ],
    ['tcpProxyYaml', tcpProxyYaml({ upstreamPorts: [8080, 8081], tcpProxyExtra: 'idle_timeout: 5s' })],
    ['TLS: SNI chains, mTLS, passthrough, upstream TLS', tlsCorpusYaml()],
  ];
  return built.map(([what, text]) => ({ name: `builder:${what}`, text }));
}

export function validCorpus(): CorpusConfig[] {
  return [...corpusFiles(), ...builderConfigs()];
}

/** A listener with tls_inspector and TLS, mTLS, passthrough and plaintext chains; a TLS cluster. */
function tlsCorpusYaml(): string {
  const mtls = `validation_context:
  trusted_ca: { filename: ${certPath('ca.crt')} }
  match_typed_subject_alt_names: [{ san_type: URI, matcher: { prefix: "spiffe://legate/" } }]
tls_params: { tls_minimum_protocol_version: TLSv1_2, cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256], ecdh_curves: [X25519] }
alpn_protocols: [http/1.1]`;
  return tlsListenerYaml({
    listenerExtra: `${TLS_INSPECTOR}\nlistener_filters_timeout: 5s`,
    chains: [
      chainYaml({
        cluster: 'tls',
        match: 'server_names: [a.example, "*.wild.example"]',
        tls: tlsSocketYaml({ certs: ['server-rsa', 'server-ec'] }),
      }),
      chainYaml({
        cluster: 'tls',
        match: 'server_names: [m.example]',
        tls: tlsSocketYaml({ common: mtls, context: 'require_client_certificate: true' }),
      }),
      chainYaml({
        cluster: 'plain',
        kind: 'tcp',
        match:
          'server_names: [pass.example]\nsource_prefix_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }]',
      }),
      chainYaml({ cluster: 'plain', match: 'transport_protocol: raw_buffer\ndestination_port: 8080' }),
    ],
    clusters: [
      tlsStaticCluster('plain', 8080),
      `${tlsStaticCluster('tls', 8443)}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      sni: a.example
      common_tls_context: { validation_context: { trusted_ca: { filename: ${certPath('ca.crt')} } } }`,
    ],
  });
}
