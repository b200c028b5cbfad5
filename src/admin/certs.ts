/**
 * The admin's `/certs`, in Envoy's format (admin.v3.Certificates): one entry per TLS context — each
 * listener filter chain's, then each cluster's — with the trusted CA (`ca_cert`) and the
 * certificates (`cert_chain`, the leaf of each): path, serial number, SANs, validity and days until
 * expiration. A listener whose certificates come from files is read again, so that the page shows
 * what a rotation put in place.
 */
import { X509Certificate } from 'node:crypto';
import type { Bootstrap, ExtensionConfig } from '../config/bootstrap';
import { readDetached } from '../config/detached-reader';
import {
  parseServerCommonTlsContext,
  type CommonTlsConfig,
  type DownstreamTlsConfig,
  type UpstreamTlsConfig,
} from '../transport/tls/config';

const TLS = 'envoy.transport_sockets.tls';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CertificateDetails {
  path: string;
  serial_number: string;
  subject_alt_names: Record<string, string>[];
  days_until_expiration: string;
  valid_from: string;
  expiration_time: string;
}

export function renderCerts(bootstrap: Bootstrap, nowMs = Date.now()): { certificates: object[] } {
  const contexts: CommonTlsConfig[] = [];
  for (const listener of bootstrap.listeners) {
    const chains = listener.defaultFilterChain
      ? [...listener.filterChains, listener.defaultFilterChain]
      : listener.filterChains;
    for (const chain of chains)
      if (isTls(chain.transportSocket))
        contexts.push(currentCommon(chain.transportSocket.config as DownstreamTlsConfig));
  }
  for (const cluster of bootstrap.clusters)
    if (isTls(cluster.transportSocket))
      contexts.push((cluster.transportSocket.config as UpstreamTlsConfig).common);
  return {
    certificates: contexts.map((common) => ({
      ca_cert:
        common.validation !== null && common.validation.trustedCa !== ''
          ? [details(common.validation.trustedCaPath, common.validation.trustedCa, nowMs)]
          : [],
      cert_chain: common.certificates.map((c) => details(c.chainPath, c.certificateChain, nowMs)),
    })),
  };
}

function isTls(socket: ExtensionConfig | null | undefined): socket is ExtensionConfig {
  return socket?.name === TLS;
}

/** The listener's certificates as its files hold them now (as loaded, when they cannot be read). */
function currentCommon(config: DownstreamTlsConfig): CommonTlsConfig {
  if (config.common.watchedPaths.length === 0) return config.common;
  const read = readDetached('common_tls_context', config.rawCommon as object, parseServerCommonTlsContext);
  return read.value !== null && read.errors.length === 0 ? read.value : config.common;
}

/** Envoy's CertificateDetails of the first certificate in `pem`. */
function details(path: string, pem: string, nowMs: number): CertificateDetails {
  const cert = new X509Certificate(pem);
  const expires = Date.parse(cert.validTo);
  return {
    path,
    serial_number: cert.serialNumber.toLowerCase(),
    subject_alt_names: subjectAltNames(cert.subjectAltName),
    days_until_expiration: String(Math.max(0, Math.floor((expires - nowMs) / DAY_MS))),
    valid_from: rfc3339(Date.parse(cert.validFrom)),
    expiration_time: rfc3339(expires),
  };
}

const SAN_KINDS: Record<string, string> = { 'DNS:': 'dns', 'URI:': 'uri', 'IP Address:': 'ip_address' };

function subjectAltNames(names: string | undefined): Record<string, string>[] {
  if (names === undefined || names === '') return [];
  return names.split(', ').flatMap((san) => {
    for (const [prefix, kind] of Object.entries(SAN_KINDS))
      if (san.startsWith(prefix)) return [{ [kind]: san.slice(prefix.length) }];
    return [];
  });
}

/** A protobuf Timestamp in JSON: RFC 3339, UTC, no fraction when there is none. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
