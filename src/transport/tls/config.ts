/**
 * Envoy's TLS transport socket configs (extensions/transport_sockets/tls/v3: tls.proto,
 * common.proto) as plain data: `DownstreamTlsContext` for listeners, `UpstreamTlsContext` for
 * clusters. Certificates and CAs are read here, once, from their DataSources (PEM text); the
 * defaults are Envoy's (TlsParameters' comments): TLS 1.2 to 1.3 for servers and TLS 1.2 only
 * for clients, Envoy's cipher list (the same for both), curves X25519 and P-256.
 *
 * Fields Legate does not implement are errors ("not supported by Legate yet"), never ignored.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { StringMatcher } from '../../config/bootstrap';
import type { ObjectReader } from '../../config/config-reader';
import { readBoolValue } from '../../config/bool-value';
import { readDataSource, readSourceBytes } from '../../config/data-source';
import { parseStringMatcher } from '../../config/route/string-matcher';
import { rejectUnsupported } from '../../config/unsupported';
import { filenamesIn, readSdsSecret } from './sds-file';

export const TLS_VERSIONS = ['TLS_AUTO', 'TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'] as const;
export type TlsVersion = Exclude<(typeof TLS_VERSIONS)[number], 'TLS_AUTO'>;

/**
 * Envoy's default cipher list for servers and clients (TLS 1.0–1.2). BoringSSL's `[a|b]` equal-preference groups
 * have no OpenSSL equivalent: each group is listed in order instead.
 */
export const ENVOY_DEFAULT_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
] as const;
/** TLS 1.3 suites: not configurable in Envoy (BoringSSL); these are BoringSSL's. */
export const TLS13_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];
export const ENVOY_DEFAULT_CURVES = ['X25519', 'P-256'] as const;

export interface TlsCertificateConfig {
  at: string;
  certificateChain: string;
  privateKey: string;
  password: string;
  /** The key type (rsa, ec, …): OpenSSL serves the first certificate of a type the client can use. */
  keyType: string;
  /** Where certificate_chain came from: its filename, or '<inline>' (the admin's /certs). */
  chainPath: string;
}

export type SanType = 'EMAIL' | 'DNS' | 'URI' | 'IP_ADDRESS';

export interface SanMatcherConfig {
  sanType: SanType;
  matcher: StringMatcher;
}

export interface CertificateValidationConfig {
  /** PEM of the CAs a peer certificate must chain to ('' : a presented certificate is not verified). */
  trustedCa: string;
  /** Its filename, or '<inline>'. */
  trustedCaPath: string;
  matchSans: SanMatcherConfig[];
  /** `verify_certificate_hash`: SHA-256 of the certificate's DER, lower-case hex without colons. */
  certificateHashes: string[];
  /** `verify_certificate_spki`: SHA-256 of the SubjectPublicKeyInfo's DER, base64. */
  spkiHashes: string[];
  /** `crl`: PEM CRLs; with them every certificate of the chain is checked for revocation. */
  crl: string;
}

export interface CommonTlsConfig {
  certificates: TlsCertificateConfig[];
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** TLS ≤ 1.2 suites, OpenSSL names. */
  cipherSuites: string[];
  ecdhCurves: string[];
  alpnProtocols: string[];
  validation: CertificateValidationConfig | null;
  /**
   * Files the certificates and CAs were read from (and SDS secret files and watched directories):
   * a listener reads the context again when one changes.
   */
  watchedPaths: string[];
}

export interface UpstreamTlsConfig {
  common: CommonTlsConfig;
  /** SNI sent to every host ('' : none). */
  sni: string;
}

export interface DownstreamTlsConfig {
  common: CommonTlsConfig;
  /**
   * The 48-byte key (hex: name, HMAC secret, AES key, 16 bytes each, as OpenSSL takes it) every
   * worker encrypts and decrypts session tickets with, so that a client resumes on any worker;
   * from `session_ticket_keys`, else made once when the config is loaded. '' : no tickets.
   */
  ticketKeys: string;
  /** Seconds a session can be resumed (`session_timeout`). */
  sessionTimeoutS: number;
  /** `common_tls_context` as plain data, to read again when a watched file changes. */
  rawCommon: unknown;
  /** The handshake fails without a client certificate (also implied by SAN matchers, as in Envoy). */
  requireClientCertificate: boolean;
  /** `prefer_client_ciphers`: the client's order of cipher suites wins (default: the server's). */
  preferClientCiphers: boolean;
}

const UNSUPPORTED_DOWNSTREAM_FIELDS = [
  'session_ticket_keys_sds_secret_config',
  'require_sni',
  'full_scan_certs_on_sni_mismatch',
  'prefer_client_ciphers_sni',
] as const;
const UNSUPPORTED_COMMON_FIELDS = [
  'tls_certificate_provider_instance',
  'tls_certificate_certificate_provider',
  'tls_certificate_certificate_provider_instance',
  'combined_validation_context',
  'validation_context_certificate_provider',
  'validation_context_certificate_provider_instance',
  'custom_handshaker',
  'key_log',
  'custom_tls_certificate_selector',
] as const;
const UNSUPPORTED_CERTIFICATE_FIELDS = [
  'pkcs12',
  'watched_directory',
  'private_key_provider',
  'ocsp_staple',
  'signed_certificate_timestamp',
] as const;
const UNSUPPORTED_VALIDATION_FIELDS = [
  'allow_expired_certificate',
  'trust_chain_verification',
  'custom_validator_config',
  'max_verify_depth',
  'system_root_certs',
  'ca_certificate_provider_instance',
  'watched_directory',
] as const;
const UNSUPPORTED_UPSTREAM_FIELDS = [
  'max_session_keys',
  'enforce_rsa_key_usage',
  'auto_host_sni',
  'auto_sni_san_validation',
] as const;
const SAN_TYPES = ['SAN_TYPE_UNSPECIFIED', 'EMAIL', 'DNS', 'URI', 'IP_ADDRESS'] as const;
const OCSP_POLICIES = ['LENIENT_STAPLING', 'STRICT_STAPLING', 'MUST_STAPLE'] as const;

export function parseDownstreamTlsContext(r: ObjectReader): DownstreamTlsConfig {
  rejectUnsupported(r, UNSUPPORTED_DOWNSTREAM_FIELDS);
  if (r.enumValue('ocsp_staple_policy', OCSP_POLICIES, 'LENIENT_STAPLING') !== 'LENIENT_STAPLING')
    r.unsupported('ocsp_staple_policy', 'only LENIENT_STAPLING (no OCSP stapling)');
  const common = parseServerCommonTlsContext(r.requiredObject('common_tls_context'));
  const requireClientCertificate = readBoolValue(r, 'require_client_certificate', false);
  if (requireClientCertificate && (common.validation === null || common.validation.trustedCa === ''))
    r.error(
      'require_client_certificate',
      'needs common_tls_context.validation_context.trusted_ca to verify client certificates against',
    );
  return {
    common,
    ...parseSessionResumption(r),
    rawCommon: r.raw('common_tls_context'),
    requireClientCertificate:
      requireClientCertificate || (common.validation !== null && common.validation.matchSans.length > 0),
    preferClientCiphers: r.bool('prefer_client_ciphers', false),
  };
}

/** A listener's common_tls_context: what a client is served (read again when its files change). */
export function parseServerCommonTlsContext(context: ObjectReader): CommonTlsConfig {
  const common = parseCommonTlsContext(context, 'TLSv1_3');
  if (common.certificates.length === 0)
    context.error(
      'tls_certificates',
      'a listener needs tls_certificates or tls_certificate_sds_secret_configs (a certificate and its key)',
    );
  return common;
}

/** BoringSSL's default session lifetime, which Envoy keeps unless `session_timeout` is set. */
const DEFAULT_SESSION_TIMEOUT_S = 2 * 60 * 60;
/** Envoy's session ticket key: 16 bytes of name, 32 of HMAC secret, 32 of AES key. */
const ENVOY_TICKET_KEY_BYTES = 80;

/**
 * Session resumption by tickets (stateless), with keys shared by every worker. OpenSSL, as Node
 * exposes it, takes one ticket key: the first of `session_ticket_keys` (Envoy's encrypting one)
 * is used, and tickets made with the others are not accepted (those clients do a full handshake).
 * Stateful resumption (session IDs) is not implemented: OpenSSL's session cache would be per worker.
 */
function parseSessionResumption(
  r: ObjectReader,
): Pick<DownstreamTlsConfig, 'ticketKeys' | 'sessionTimeoutS'> {
  const sessionTimeoutS = Math.ceil(r.durationMs('session_timeout', DEFAULT_SESSION_TIMEOUT_S * 1000) / 1000);
  // Envoy's default (false) asks for session-ID resumption too, which Legate does not have.
  if (r.has('disable_stateful_session_resumption') && !r.bool('disable_stateful_session_resumption', false))
    r.warn(
      'disable_stateful_session_resumption',
      'Legate resumes sessions by tickets only (no session-ID cache)',
    );
  const disabled = r.bool('disable_stateless_session_resumption', false);
  const keys = r.object('session_ticket_keys');
  if (disabled) {
    if (keys !== null)
      r.error('session_ticket_keys', 'set together with disable_stateless_session_resumption: true');
    return { ticketKeys: '', sessionTimeoutS };
  }
  if (keys === null) return { ticketKeys: randomBytes(48).toString('hex'), sessionTimeoutS };
  const sources = keys.objectArray('keys');
  if (sources.length === 0) keys.error('keys', 'needs at least one key (80 bytes)');
  if (sources.length > 1)
    keys.warn(
      'keys',
      'only the first key is used (to make and to accept tickets): tickets made with the others are not accepted, those clients do a full handshake',
    );
  let ticketKeys = '';
  sources.forEach((source, i) => {
    const key = readSourceBytes(source);
    if (key.length !== ENVOY_TICKET_KEY_BYTES)
      keys.error(
        `keys[${i}]`,
        `a session ticket key is ${ENVOY_TICKET_KEY_BYTES} bytes, found ${key.length}`,
      );
    else if (i === 0) ticketKeys = toOpenSslTicketKey(key).toString('hex');
  });
  return { ticketKeys, sessionTimeoutS };
}

/** OpenSSL's 48-byte form of Envoy's key: its name, and the first 16 bytes of each secret. */
function toOpenSslTicketKey(key: Buffer): Buffer {
  return Buffer.concat([key.subarray(0, 16), key.subarray(16, 32), key.subarray(48, 64)]);
}

export function parseUpstreamTlsContext(r: ObjectReader): UpstreamTlsConfig {
  rejectUnsupported(r, UNSUPPORTED_UPSTREAM_FIELDS);
  if (r.bool('allow_renegotiation', false))
    r.unsupported('allow_renegotiation', 'Legate never lets an upstream renegotiate (false only)');
  const context = r.object('common_tls_context');
  const common = context ? parseCommonTlsContext(context, 'TLSv1_2') : DEFAULT_CLIENT_COMMON;
  if (context && common.certificates.length > 1)
    context.error('tls_certificates', 'an upstream connection presents one client certificate (as in Envoy)');
  return { common, sni: r.string('sni') };
}

/** An UpstreamTlsContext without common_tls_context: TLS 1.2, no client certificate, no verification. */
const DEFAULT_CLIENT_COMMON: CommonTlsConfig = {
  certificates: [],
  minVersion: 'TLSv1_2',
  maxVersion: 'TLSv1_2',
  cipherSuites: [...ENVOY_DEFAULT_CIPHERS],
  ecdhCurves: [...ENVOY_DEFAULT_CURVES],
  alpnProtocols: [],
  validation: null,
  watchedPaths: [],
};

export function parseCommonTlsContext(r: ObjectReader, defaultMax: TlsVersion): CommonTlsConfig {
  rejectUnsupported(r, UNSUPPORTED_COMMON_FIELDS);
  const params = r.object('tls_params');
  params?.unsupported('signature_algorithms');
  params?.unsupported('compliance_policies');
  const minVersion = version(
    params?.enumValue('tls_minimum_protocol_version', TLS_VERSIONS, 'TLS_AUTO'),
    'TLSv1_2',
  );
  const maxVersion = version(
    params?.enumValue('tls_maximum_protocol_version', TLS_VERSIONS, 'TLS_AUTO'),
    defaultMax,
  );
  if (params && minVersion > maxVersion)
    params.error('tls_minimum_protocol_version', `${minVersion} is above the maximum ${maxVersion}`);
  const certificates = r.objectArray('tls_certificates').map(parseCertificate);
  const watchedPaths = filenamesIn(r.raw('tls_certificates'));
  for (const sds of r.objectArray('tls_certificate_sds_secret_configs')) {
    const secret = readSdsSecret(sds, 'tls_certificate', parseCertificate);
    if (secret.value !== null) certificates.push(secret.value);
    watchedPaths.push(...secret.watchedPaths);
  }
  let validation: CertificateValidationConfig | null = null;
  const inline = r.object('validation_context');
  const sdsValidation = r.object('validation_context_sds_secret_config');
  if (inline !== null && sdsValidation !== null)
    r.error('validation_context_sds_secret_config', 'only one of validation_context and this may be set');
  if (inline !== null) {
    validation = parseValidationContext(inline);
    watchedPaths.push(...filenamesIn(r.raw('validation_context')));
  } else if (sdsValidation !== null) {
    const secret = readSdsSecret(sdsValidation, 'validation_context', parseValidationContext);
    validation = secret.value;
    watchedPaths.push(...secret.watchedPaths);
  }
  return {
    certificates,
    minVersion,
    maxVersion,
    cipherSuites: params ? parseCipherSuites(params) : [...ENVOY_DEFAULT_CIPHERS],
    ecdhCurves: params ? parseCurves(params) : [...ENVOY_DEFAULT_CURVES],
    alpnProtocols: r.stringArray('alpn_protocols'),
    validation,
    watchedPaths: [...new Set(watchedPaths)],
  };
}

/** A DataSource's filename, or Envoy's '<inline>' for the other kinds. */
function dataSourcePath(r: ObjectReader, field: string): string {
  const source = r.raw(field) as { filename?: unknown } | undefined;
  return typeof source?.filename === 'string' ? source.filename : '<inline>';
}

function version(v: (typeof TLS_VERSIONS)[number] | undefined, dflt: TlsVersion): TlsVersion {
  return v === undefined || v === 'TLS_AUTO' ? dflt : v;
}

function parseCertificate(r: ObjectReader): TlsCertificateConfig {
  rejectUnsupported(r, UNSUPPORTED_CERTIFICATE_FIELDS);
  const certificateChain = readDataSource(r, 'certificate_chain');
  const privateKey = readDataSource(r, 'private_key');
  const password = r.has('password') ? readDataSource(r, 'password') : '';
  let keyType = '';
  if (privateKey !== '') {
    try {
      keyType = createPrivateKey({ key: privateKey, passphrase: password }).asymmetricKeyType ?? '';
    } catch (err) {
      r.error('private_key', `not a usable PEM private key: ${(err as Error).message}`);
    }
  }
  if (certificateChain !== '') {
    try {
      new X509Certificate(certificateChain);
    } catch (err) {
      r.error('certificate_chain', `not a PEM certificate: ${(err as Error).message}`);
    }
  }
  if (keyType !== '' && certificateChain !== '') {
    try {
      createSecureContext({ cert: certificateChain, key: privateKey, passphrase: password });
    } catch (err) {
      r.error('private_key', `does not match certificate_chain: ${(err as Error).message}`);
    }
  }
  return {
    at: r.path,
    certificateChain,
    privateKey,
    password,
    keyType,
    chainPath: dataSourcePath(r, 'certificate_chain'),
  };
}

/** Cipher names as OpenSSL knows them (lower case), for checking names at load time. */
const KNOWN_CIPHERS = new Set(tls.getCiphers());

function parseCipherSuites(r: ObjectReader): string[] {
  if (!r.has('cipher_suites')) return [...ENVOY_DEFAULT_CIPHERS];
  const out: string[] = [];
  let unknown = false;
  for (const entry of r.stringArray('cipher_suites')) {
    // BoringSSL's equal-preference group "[A|B]": listed in order (see ENVOY_DEFAULT_CIPHERS).
    for (const name of entry.replace(/^\[|\]$/g, '').split('|')) {
      if (!KNOWN_CIPHERS.has(name.toLowerCase()) || name.startsWith('TLS_')) {
        unknown = true;
        r.error(
          'cipher_suites',
          `unknown TLS 1.0–1.2 cipher suite '${name}'`,
          'OpenSSL names, e.g. ECDHE-RSA-AES128-GCM-SHA256 (TLS 1.3 suites are not configurable, as in Envoy)',
        );
      } else out.push(name);
    }
  }
  if (out.length === 0 && !unknown) r.error('cipher_suites', 'must not be empty');
  return out;
}

function parseCurves(r: ObjectReader): string[] {
  if (!r.has('ecdh_curves')) return [...ENVOY_DEFAULT_CURVES];
  const curves = r.stringArray('ecdh_curves');
  for (const curve of curves) {
    try {
      createSecureContext({ ecdhCurve: curve });
    } catch {
      r.error('ecdh_curves', `unknown curve '${curve}'`, 'e.g. X25519, P-256, P-384');
    }
  }
  return curves;
}

function parseValidationContext(r: ObjectReader): CertificateValidationConfig {
  rejectUnsupported(r, UNSUPPORTED_VALIDATION_FIELDS);
  if (r.has('match_subject_alt_names'))
    r.unsupported('match_subject_alt_names', 'use match_typed_subject_alt_names');
  const trustedCa = r.has('trusted_ca') ? readDataSource(r, 'trusted_ca') : '';
  if (trustedCa !== '') {
    try {
      createSecureContext({ ca: trustedCa });
      new X509Certificate(trustedCa);
    } catch (err) {
      r.error('trusted_ca', `not PEM certificates: ${(err as Error).message}`);
    }
  }
  const matchSans = r.objectArray('match_typed_subject_alt_names').map((m) => {
    const sanType = m.enumValue('san_type', SAN_TYPES, 'SAN_TYPE_UNSPECIFIED');
    if (sanType === 'SAN_TYPE_UNSPECIFIED') m.error('san_type', 'is required: EMAIL, DNS, URI or IP_ADDRESS');
    m.unsupported('oid');
    return { sanType: sanType as SanType, matcher: parseStringMatcher(m.requiredObject('matcher')) };
  });
  if (matchSans.length > 0 && trustedCa === '')
    r.error('match_typed_subject_alt_names', 'needs trusted_ca: only a verified certificate is matched');
  const certificateHashes = r.stringArray('verify_certificate_hash').map((hash) => {
    const hex = hash.replace(/:/g, '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex))
      r.error('verify_certificate_hash', `'${hash}' is not a SHA-256 hash (64 hex digits, colons allowed)`);
    return hex;
  });
  const spkiHashes = r.stringArray('verify_certificate_spki');
  for (const spki of spkiHashes)
    if (Buffer.from(spki, 'base64').length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(spki))
      r.error('verify_certificate_spki', `'${spki}' is not a base64 SHA-256 hash (44 characters)`);
  const crl = r.has('crl') ? readDataSource(r, 'crl') : '';
  if (crl !== '') {
    try {
      createSecureContext({ crl });
      if (trustedCa === '')
        r.error('crl', 'needs trusted_ca: revocation is checked while verifying the chain');
    } catch (err) {
      r.error('crl', `not PEM CRLs: ${(err as Error).message}`);
    }
  }
  if (r.bool('only_verify_leaf_cert_crl', false))
    r.unsupported(
      'only_verify_leaf_cert_crl',
      "OpenSSL as Node drives it checks every certificate of the chain (Envoy's default)",
    );
  return {
    trustedCa,
    trustedCaPath: dataSourcePath(r, 'trusted_ca'),
    matchSans,
    certificateHashes,
    spkiHashes,
    crl,
  };
}
