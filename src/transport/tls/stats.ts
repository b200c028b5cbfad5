/**
 * A TLS listener's `ssl.*` stats, Envoy's names (docs: "TLS statistics"), under the listener's
 * prefix: `listener.<address>.ssl.handshake`, `…ssl.versions.TLSv1.3`, `…ssl.ciphers.<name>`,
 * `…ssl.curves.X25519`. Versions, ciphers and curves are declared for what the config allows, so
 * each is a counter bound once. Curves are counted where the group a handshake used is known: on
 * the native engine's TLS (Node's TLS does not tell a server which group it used).
 */
import type { StatsLayout, StatsStore, Counter } from '../../stats/store';
import { TLS13_CIPHERS, type CommonTlsConfig, type TlsVersion } from './config';

export const SSL_COUNTERS = [
  'handshake',
  'connection_error',
  'no_certificate',
  'fail_verify_no_cert',
  'fail_verify_error',
  'fail_verify_san',
  'fail_verify_cert_hash',
  'session_reused',
] as const;

/** Envoy's spelling of each version, as OpenSSL and Node report it. */
const VERSION_NAMES: Record<TlsVersion, string> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};
const VERSION_ORDER: readonly TlsVersion[] = ['TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'];

function allowedVersions(config: CommonTlsConfig): string[] {
  return VERSION_ORDER.filter((v) => v >= config.minVersion && v <= config.maxVersion).map(
    (v) => VERSION_NAMES[v],
  );
}

function allowedCiphers(config: CommonTlsConfig): string[] {
  const ciphers = config.minVersion < 'TLSv1_3' ? [...config.cipherSuites] : [];
  if (config.maxVersion === 'TLSv1_3') ciphers.push(...TLS13_CIPHERS);
  return ciphers;
}

/** Envoy's (BoringSSL's) name of each group, by the names OpenSSL and ecdh_curves use for it. */
const CURVE_NAMES: Record<string, string> = {
  x25519: 'X25519',
  x448: 'X448',
  'p-256': 'P-256',
  secp256r1: 'P-256',
  prime256v1: 'P-256',
  'p-384': 'P-384',
  secp384r1: 'P-384',
  'p-521': 'P-521',
  secp521r1: 'P-521',
};

/** A group's name as Envoy's stats spell it (unknown ones as OpenSSL does). */
export function envoyCurveName(name: string): string {
  return CURVE_NAMES[name.toLowerCase()] ?? name;
}

function allowedCurves(config: CommonTlsConfig): string[] {
  return [...new Set(config.ecdhCurves.map(envoyCurveName))];
}

export function declareSslStats(layout: StatsLayout, prefix: string, config: CommonTlsConfig): void {
  const p = `${prefix}ssl.`;
  layout.declareAll(p, SSL_COUNTERS, 'counter');
  for (const v of allowedVersions(config)) layout.declare(`${p}versions.${v}`, 'counter');
  for (const c of allowedCiphers(config)) layout.declare(`${p}ciphers.${c}`, 'counter');
  for (const c of allowedCurves(config)) layout.declare(`${p}curves.${c}`, 'counter');
}

export class SslStats {
  readonly handshake: Counter;
  readonly connectionError: Counter;
  readonly noCertificate: Counter;
  readonly failVerifyNoCert: Counter;
  readonly failVerifyError: Counter;
  readonly failVerifySan: Counter;
  readonly failVerifyCertHash: Counter;
  readonly sessionReused: Counter;
  private readonly versions = new Map<string, Counter>();
  private readonly ciphers = new Map<string, Counter>();
  private readonly curves = new Map<string, Counter>();

  constructor(stats: StatsStore, prefix: string, config: CommonTlsConfig) {
    const p = `${prefix}ssl.`;
    this.handshake = stats.counter(p + 'handshake');
    this.connectionError = stats.counter(p + 'connection_error');
    this.noCertificate = stats.counter(p + 'no_certificate');
    this.failVerifyNoCert = stats.counter(p + 'fail_verify_no_cert');
    this.failVerifyError = stats.counter(p + 'fail_verify_error');
    this.failVerifySan = stats.counter(p + 'fail_verify_san');
    this.failVerifyCertHash = stats.counter(p + 'fail_verify_cert_hash');
    this.sessionReused = stats.counter(p + 'session_reused');
    for (const v of allowedVersions(config)) this.versions.set(v, stats.counter(`${p}versions.${v}`));
    for (const c of allowedCiphers(config)) this.ciphers.set(c, stats.counter(`${p}ciphers.${c}`));
    for (const c of allowedCurves(config)) this.curves.set(c, stats.counter(`${p}curves.${c}`));
  }

  /** The group a handshake used (OpenSSL's name; '' when none, e.g. a resumption without key exchange). */
  curve(name: string): void {
    if (name !== '') this.curves.get(envoyCurveName(name))?.inc();
  }

  /** A handshake that succeeded with `version` and `cipher`. */
  negotiated(version: string, cipher: string, reused: boolean): void {
    this.handshake.inc();
    this.versions.get(version)?.inc();
    this.ciphers.get(cipher)?.inc();
    if (reused) this.sessionReused.inc();
  }
}
