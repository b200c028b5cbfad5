/**
 * `verify_certificate_hash` and `verify_certificate_spki`: a peer certificate passes when the
 * SHA-256 of its DER, or of its SubjectPublicKeyInfo, is one of the configured ones (either list,
 * as in Envoy); with neither list, every certificate passes.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import type { CertificateValidationConfig } from './config';

export class CertificatePins {
  private readonly hashes: ReadonlySet<string>;
  private readonly spkis: ReadonlySet<string>;

  constructor(validation: CertificateValidationConfig | null) {
    this.hashes = new Set(validation?.certificateHashes ?? []);
    this.spkis = new Set(validation?.spkiHashes ?? []);
  }

  get empty(): boolean {
    return this.hashes.size === 0 && this.spkis.size === 0;
  }

  /** Whether the certificate passes (always, when nothing is pinned). */
  accept(cert: tls.PeerCertificate): boolean {
    if (this.empty) return true;
    if (cert.raw === undefined) return false;
    if (this.hashes.size > 0 && this.hashes.has(createHash('sha256').update(cert.raw).digest('hex')))
      return true;
    if (this.spkis.size === 0) return false;
    const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' });
    return this.spkis.has(createHash('sha256').update(spki).digest('base64'));
  }
}
