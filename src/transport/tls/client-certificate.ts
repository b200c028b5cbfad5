/**
 * The facts of an mTLS connection's client certificate that x-forwarded-client-cert carries
 * (Envoy's Ssl::ConnectionInfo: sha256PeerCertificateDigest, uriSanPeerCertificate, …), read once
 * per connection, after the handshake, when the client presented a certificate.
 */
import { createHash } from 'node:crypto';
import type * as tls from 'node:tls';
import type { ClientCertificate } from '../api';

export function clientCertificateOf(secured: tls.TLSSocket, subject: string): ClientCertificate | null {
  const peer = secured.getPeerCertificate(true);
  if (peer.raw === undefined) return null;
  const local = secured.getCertificate();
  return {
    hash: createHash('sha256').update(peer.raw).digest('hex'),
    subject,
    uriSans: sansOf(peer.subjectaltname, 'URI:'),
    dnsSans: sansOf(peer.subjectaltname, 'DNS:'),
    pem: toPem(peer.raw),
    chainPem: chainOf(peer).map(toPem).join(''),
    localUriSans: local !== null && 'subjectaltname' in local ? sansOf(local.subjectaltname, 'URI:') : [],
  };
}

/** The SANs of one type from Node's `subjectaltname` ("DNS:a.example, URI:spiffe://x"). */
function sansOf(names: string | undefined, prefix: string): string[] {
  if (names === undefined || names === '') return [];
  return names
    .split(', ')
    .filter((san) => san.startsWith(prefix))
    .map((san) => san.slice(prefix.length));
}

/** The DER of the leaf and each issuer the client sent, up to (without repeating) a self-signed one. */
function chainOf(leaf: tls.DetailedPeerCertificate): Buffer[] {
  const out: Buffer[] = [];
  for (let cert: tls.DetailedPeerCertificate | undefined = leaf; cert !== undefined && out.length < 16;) {
    out.push(cert.raw);
    const issuer: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    cert = issuer === undefined || issuer === cert || issuer.raw.equals(cert.raw) ? undefined : issuer;
  }
  return out;
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
