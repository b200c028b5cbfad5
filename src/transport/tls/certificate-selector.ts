/**
 * Several certificates of one key type on a listener, chosen per handshake by SNI as Envoy does:
 * the certificates whose DNS SANs (their CN when they have none) name the server name exactly,
 * else those whose wildcard (`*.example.com`, one label) covers it, else all of them (the
 * listener's default). Among the chosen ones, OpenSSL serves the first of each key type the client
 * can use. One SecureContext per distinct choice, made when first needed.
 */
import { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import type { TlsCertificateConfig } from './config';

export class CertificateSelector {
  /** Per certificate, the lower-case names it serves. */
  private readonly names: string[][];
  private readonly contexts = new Map<string, tls.SecureContext>();

  constructor(
    private readonly certificates: readonly TlsCertificateConfig[],
    /** A context serving the given certificates (with the listener's other settings). */
    private readonly contextFor: (certificates: TlsCertificateConfig[]) => tls.SecureContext,
  ) {
    this.names = certificates.map((c) => servedNames(c.certificateChain));
  }

  /** Whether choosing is needed: two certificates of one key type (else OpenSSL picks by type). */
  static needed(certificates: readonly TlsCertificateConfig[]): boolean {
    const types = certificates.map((c) => c.keyType);
    return new Set(types).size < types.length;
  }

  /** The context for `serverName`, or null for the listener's default one. */
  select(serverName: string): tls.SecureContext | null {
    const sni = serverName.toLowerCase();
    let chosen = this.matching((name) => name === sni);
    if (chosen.length === 0) {
      const dot = sni.indexOf('.');
      const parent = dot === -1 ? '' : sni.slice(dot);
      chosen =
        parent === '' ? [] : this.matching((name) => name.startsWith('*.') && name.slice(1) === parent);
    }
    if (chosen.length === 0) return null;
    const key = chosen.join(',');
    let context = this.contexts.get(key);
    if (context === undefined) {
      context = this.contextFor(chosen.map((i) => this.certificates[i]!));
      this.contexts.set(key, context);
    }
    return context;
  }

  private matching(test: (name: string) => boolean): number[] {
    const out: number[] = [];
    this.names.forEach((names, i) => {
      if (names.some(test)) out.push(i);
    });
    return out;
  }
}

/** The first certificate of each key type: what one OpenSSL context can hold. */
export function firstOfEachType(certificates: readonly TlsCertificateConfig[]): TlsCertificateConfig[] {
  const seen = new Set<string>();
  return certificates.filter((c) => !seen.has(c.keyType) && seen.add(c.keyType) !== undefined);
}

/** DNS SANs of the chain's leaf, or its CN when it has none (Envoy's rule). */
function servedNames(chain: string): string[] {
  const leaf = new X509Certificate(chain);
  const dns = (leaf.subjectAltName ?? '')
    .split(', ')
    .filter((san) => san.startsWith('DNS:'))
    .map((san) => san.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /^CN=(.*)$/m.exec(leaf.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}
