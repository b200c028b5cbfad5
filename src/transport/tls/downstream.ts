/**
 * TLS termination on a listener's filter chain (Envoy's ServerSslSocket) with node:tls: one
 * SecureContext per chain per worker, built at startup; each accepted socket is wrapped in a
 * server TLSSocket and handed to the chain's filters once the handshake succeeded and the client
 * certificate (if any) passed verification. Everything is counted under `listener.<addr>.ssl.*`.
 *
 * Client certificates: requested when the chain has a validation context; verified against
 * `trusted_ca` after the handshake (Node reports the chain's verdict, never fails the handshake
 * for it), then matched against `match_typed_subject_alt_names`. A required certificate that is
 * missing fails inside the handshake (OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { DownstreamTransport, DownstreamTransportContext, TlsConnectionInfo } from '../api';
import { TLS13_CIPHERS, type CommonTlsConfig, type DownstreamTlsConfig, type TlsVersion } from './config';
import { SanMatchers } from './san';
import { SslStats } from './stats';

const NODE_VERSIONS: Record<TlsVersion, tls.SecureVersion> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

/** The secure-context options both sides of Legate's TLS share (certificates, versions, ciphers, CA). */
export function secureContextOptions(common: CommonTlsConfig): tls.SecureContextOptions {
  return {
    cert: common.certificates.map((c) => c.certificateChain),
    key: common.certificates.map((c) => ({ pem: c.privateKey, passphrase: c.password || undefined })),
    minVersion: NODE_VERSIONS[common.minVersion],
    maxVersion: NODE_VERSIONS[common.maxVersion],
    // OpenSSL takes TLS 1.3 suites in the same option; Envoy's are BoringSSL's fixed three.
    ciphers: [...common.cipherSuites, ...TLS13_CIPHERS].join(':'),
    ecdhCurve: common.ecdhCurves.join(':'),
    ca: common.validation?.trustedCa || undefined,
  };
}

export class DownstreamTlsTransport implements DownstreamTransport {
  private readonly options: tls.TLSSocketOptions;
  private readonly sanMatchers: SanMatchers;
  private readonly verifyPeer: boolean;
  private readonly requirePeer: boolean;
  private readonly stats: SslStats;

  constructor(config: DownstreamTlsConfig, ctx: DownstreamTransportContext) {
    const { common } = config;
    this.verifyPeer = common.validation !== null && common.validation.trustedCa !== '';
    this.requirePeer = config.requireClientCertificate;
    this.sanMatchers = new SanMatchers(common.validation?.matchSans ?? []);
    this.options = {
      isServer: true,
      secureContext: tls.createSecureContext({
        ...secureContextOptions(common),
        honorCipherOrder: !config.preferClientCiphers,
      }),
      ALPNProtocols: common.alpnProtocols.length > 0 ? common.alpnProtocols : undefined,
      requestCert: this.verifyPeer,
      // Only a missing certificate fails the handshake itself; the chain and SANs are checked on 'secure'.
      rejectUnauthorized: this.requirePeer,
    };
    this.stats = new SslStats(ctx.stats, ctx.listenerStatPrefix, common);
  }

  start(
    socket: net.Socket,
    done: (secured: net.Socket | null, info: TlsConnectionInfo | null) => void,
  ): void {
    const secured = new tls.TLSSocket(socket, this.options);
    const fail = (): void => {
      secured.removeListener('secure', onSecure);
      secured.removeListener('close', onClose);
      secured.destroy();
      done(null, null);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      this.stats.connectionError.inc();
      if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') this.stats.failVerifyNoCert.inc();
      fail();
    };
    const onClose = (): void => {
      secured.removeListener('error', onError);
      this.stats.connectionError.inc();
      fail();
    };
    const onSecure = (): void => {
      secured.removeListener('error', onError);
      secured.removeListener('close', onClose);
      // What tls.Server does for its sockets once secure; node:http2 waits for it to take a socket.
      (secured as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      // Errors after the handshake belong to whoever owns the socket next; until then, none throw.
      secured.on('error', ignoreError);
      const peer = this.verifyPeer ? secured.getPeerCertificate() : null;
      if (!this.peerAccepted(secured, peer)) {
        secured.destroy();
        done(null, null);
        return;
      }
      const version = secured.getProtocol() ?? '';
      const cipher = secured.getCipher().name;
      this.stats.negotiated(version, cipher, secured.isSessionReused());
      done(secured, {
        version,
        cipher,
        serverName: typeof secured.servername === 'string' ? secured.servername : '',
        alpn: typeof secured.alpnProtocol === 'string' ? secured.alpnProtocol : '',
        peerSubject: peer !== null && peer.subject !== undefined ? rfc2253(peer.subject) : '',
      });
    };
    secured.once('secure', onSecure);
    secured.once('error', onError);
    secured.once('close', onClose);
  }

  /** Counts and decides the client certificate's verdict (Envoy's fail_verify_* / no_certificate). */
  private peerAccepted(secured: tls.TLSSocket, peer: tls.PeerCertificate | null): boolean {
    if (peer === null) return true;
    if (Object.keys(peer).length === 0) {
      // Absent: the handshake itself failed earlier when the certificate was required.
      this.stats.noCertificate.inc();
      return true;
    }
    if (verifyError(secured) !== null) {
      this.stats.failVerifyError.inc();
      return false;
    }
    if (!this.sanMatchers.accept(peer)) {
      this.stats.failVerifySan.inc();
      return false;
    }
    return true;
  }
}

function ignoreError(): void {}

/** Node's TLSWrap handle, as far as asking for OpenSSL's verdict on the peer's chain needs it. */
interface VerifyingHandle {
  _handle?: { verifyError?(): Error | null } | null;
}

/**
 * OpenSSL's verdict on the peer's certificate chain (null: trusted). `authorized` is only filled
 * in by tls.Server, which Legate does not use (it wraps sockets its listeners accepted), so this
 * asks the handle as tls.Server itself does; without that method nothing counts as verified.
 */
function verifyError(secured: tls.TLSSocket): Error | null {
  const handle = (secured as unknown as VerifyingHandle)._handle;
  if (handle?.verifyError === undefined) return new Error('cannot verify the peer certificate');
  return handle.verifyError();
}

/** A certificate subject as Envoy prints it (RFC 2253: most specific first, comma-separated). */
function rfc2253(subject: tls.Certificate): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(subject)) {
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${key}=${v}`);
  }
  return parts.reverse().join(',');
}
