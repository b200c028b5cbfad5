/**
 * TLS termination on a listener's filter chain (Envoy's ServerSslSocket) with node:tls: one
 * SecureContext per chain per worker, built at startup; each accepted socket is wrapped in a
 * server TLSSocket and handed to the chain's filters once the handshake succeeded and the client
 * certificate (if any) passed verification. Everything is counted under `listener.<addr>.ssl.*`.
 *
 * Client certificates: requested when the chain has `trusted_ca` or pins; verified against
 * `trusted_ca` (and `crl`) after the handshake (Node reports the chain's verdict, never fails the
 * handshake for it), then against `verify_certificate_hash` / `verify_certificate_spki`, then
 * matched against `match_typed_subject_alt_names`. A required certificate that is
 * missing fails inside the handshake (OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
 */
import type * as net from 'node:net';
import { constants, hkdfSync } from 'node:crypto';
import * as tls from 'node:tls';
import type {
  DownstreamTransport,
  DownstreamTransportContext,
  EngineTerminableTransport,
  TlsConnectionInfo,
} from '../api';
import type { EngineTlsSettings } from '../../native/bindings';
import type { EngineTlsFacts } from '../../engine/exchange';
import { readDetached } from '../../config/detached-reader';
import {
  parseServerCommonTlsContext,
  TLS13_CIPHERS,
  type CommonTlsConfig,
  type DownstreamTlsConfig,
  type TlsCertificateConfig,
  type TlsVersion,
} from './config';
import { CertificateSelector, firstOfEachType } from './certificate-selector';
import { CertificateReloader } from './reloader';
import { ListenerFilterResult, unexaminedConnection } from '../../filters/listener/api';
import { NEED_MORE, peekConnectionStart } from '../../filters/listener/peek';
import { HelloStatus, parseClientHello } from '../../filters/listener/tls-inspector/client-hello';
import { MAX_CLIENT_HELLO_BYTES } from '../../filters/listener/tls-inspector/inspector';
import { clientCertificateOf } from './client-certificate';
import { CertificatePins } from './pins';
import { SanMatchers } from './san';
import { SslStats } from './stats';
import { log } from '../../common/log';

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
    crl: common.validation?.crl || undefined,
  };
}

/** Protocol versions as OpenSSL numbers them (the engine's context takes these). */
const OPENSSL_VERSIONS: Record<TlsVersion, number> = {
  TLSv1_0: 0x0301,
  TLSv1_1: 0x0302,
  TLSv1_2: 0x0303,
  TLSv1_3: 0x0304,
};

export class DownstreamTlsTransport implements DownstreamTransport, EngineTerminableTransport {
  private readonly options: tls.TLSSocketOptions;
  private sanMatchers!: SanMatchers;
  private pins!: CertificatePins;
  /** A client certificate is asked for (there is something to check it with). */
  private requestPeer!: boolean;
  /** It is verified against trusted_ca. */
  private verifyChain!: boolean;
  private readonly requirePeer: boolean;
  private readonly stats: SslStats;
  /** Null unless two certificates share a key type (then the SNI chooses among them). */
  private selector: CertificateSelector | null = null;
  /** Null when every certificate and CA is inline (nothing on disk can change). */
  private readonly reloader: CertificateReloader<CommonTlsConfig> | null;
  /** What new handshakes are served with now (replaced by a reload). */
  private common!: CommonTlsConfig;
  readonly engineIneligibility: string | null;
  /** The listener's TLS, for the log. */
  private readonly what: string;

  constructor(
    private readonly config: DownstreamTlsConfig,
    ctx: DownstreamTransportContext,
  ) {
    const { common } = config;
    this.requirePeer = config.requireClientCertificate;
    this.options = {
      isServer: true,
      ALPNProtocols: common.alpnProtocols.length > 0 ? common.alpnProtocols : undefined,
      // Only a missing certificate fails the handshake itself; the chain and SANs are checked on 'secure'.
      rejectUnauthorized: this.requirePeer,
    };
    this.use(common);
    this.engineIneligibility = this.engineCannotServe();
    this.stats = new SslStats(ctx.stats, ctx.listenerStatPrefix, common);
    this.what = `${ctx.listenerStatPrefix.slice(0, -1)} TLS`;
    this.reloader =
      common.watchedPaths.length === 0
        ? null
        : new CertificateReloader(
            common.watchedPaths,
            this.what,
            () => {
              const read = readDetached(
                'common_tls_context',
                config.rawCommon as object,
                parseServerCommonTlsContext,
              );
              return { ...read, watchedPaths: read.value?.watchedPaths ?? [] };
            },
            (fresh) => this.use(fresh),
          );
  }

  get engine(): EngineTerminableTransport {
    return this;
  }

  /** What the engine's TLS does not do (yet) that this context asks for, or null. */
  private engineCannotServe(): string | null {
    if (this.requirePeer) return 'require_client_certificate (mTLS)';
    if (this.requestPeer) return 'client certificates (validation_context)';
    if (this.selector !== null) return 'several certificates of one key type (chosen by SNI)';
    return null;
  }

  engineSettings(): EngineTlsSettings {
    const { common, config } = this;
    const alpn = Buffer.concat(
      common.alpnProtocols.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p)]), Buffer.from(p)])),
    );
    return {
      certificates: firstOfEachType(common.certificates).map((c) => ({
        chain: c.certificateChain,
        key: c.privateKey,
        password: c.password,
      })),
      minVersion: OPENSSL_VERSIONS[common.minVersion],
      maxVersion: OPENSSL_VERSIONS[common.maxVersion],
      cipherList: common.cipherSuites.join(':'),
      ciphersuites: TLS13_CIPHERS.join(':'),
      groups: common.ecdhCurves.join(':'),
      alpn,
      ticketKey: config.ticketKeys === '' ? null : engineTicketKey(config.ticketKeys),
      sessionTimeoutS: config.sessionTimeoutS,
      serverCipherOrder: !config.preferClientCiphers,
    };
  }

  reloadIfChanged(nowMs: number): boolean {
    const before = this.common;
    this.reloader?.check(nowMs);
    if (this.common === before) return false;
    const off = this.engineCannotServe();
    if (off === null) return true;
    log.error(
      `${this.what}: the reloaded context needs ${off}, which the native engine serving this listener does not do: new handshakes keep the previous certificates until the listener is reloaded`,
    );
    return false;
  }

  engineSecured(facts: EngineTlsFacts): TlsConnectionInfo {
    this.stats.negotiated(facts.version, facts.cipher, facts.resumed);
    this.stats.curve(facts.curve);
    return {
      version: facts.version,
      cipher: facts.cipher,
      serverName: facts.serverName,
      alpn: facts.alpn,
      peerSubject: '',
      clientCertificate: null,
    };
  }

  engineHandshakeFailed(): void {
    this.stats.connectionError.inc();
  }

  /** Serves new handshakes with `common`'s certificates and CAs. */
  private use(common: CommonTlsConfig): void {
    this.common = common;
    this.verifyChain = common.validation !== null && common.validation.trustedCa !== '';
    this.sanMatchers = new SanMatchers(common.validation?.matchSans ?? []);
    this.pins = new CertificatePins(common.validation);
    this.requestPeer = this.verifyChain || !this.pins.empty;
    this.options.requestCert = this.requestPeer;
    const contextFor = (certificates: TlsCertificateConfig[]): tls.SecureContext =>
      tls.createSecureContext({
        ...secureContextOptions({ ...common, certificates: firstOfEachType(certificates) }),
        honorCipherOrder: !this.config.preferClientCiphers,
        ...ticketOptions(this.config),
      });
    this.options.secureContext = contextFor(common.certificates);
    // Node's SNICallback swaps in one certificate only, over those of the first context: choosing
    // by SNI among several of each key type means choosing the context before the handshake.
    this.selector = CertificateSelector.needed(common.certificates)
      ? new CertificateSelector(common.certificates, contextFor)
      : null;
  }

  start(
    socket: net.Socket,
    done: (secured: net.Socket | null, info: TlsConnectionInfo | null) => void,
    serverName?: string,
  ): void {
    this.reloader?.check(performance.now());
    const selector = this.selector;
    if (selector === null) {
      this.handshake(socket, this.options, done);
      return;
    }
    const withCertificatesFor = (sni: string): tls.TLSSocketOptions => {
      const context = selector.select(sni);
      return context === null ? this.options : { ...this.options, secureContext: context };
    };
    if (serverName !== undefined) {
      this.handshake(socket, withCertificatesFor(serverName), done);
      return;
    }
    // The certificates depend on the SNI, which only the ClientHello tells: read it first.
    const facts = unexaminedConnection();
    const examine = (data: Buffer): number => {
      const hello = parseClientHello(data, MAX_CLIENT_HELLO_BYTES);
      if (hello.status === HelloStatus.NeedMore) return NEED_MORE;
      facts.serverName = hello.serverName;
      return 0;
    };
    const peerClosed = (): void => this.stats.connectionError.inc();
    peekConnectionStart(socket, facts, { examine, peerClosed }, (result) => {
      if (result !== ListenerFilterResult.Continue) {
        done(null, null);
        return;
      }
      if (facts.peeked !== null) socket.unshift(facts.peeked);
      this.handshake(socket, withCertificatesFor(facts.serverName), done);
    });
  }

  private handshake(
    socket: net.Socket,
    options: tls.TLSSocketOptions,
    done: (secured: net.Socket | null, info: TlsConnectionInfo | null) => void,
  ): void {
    const secured = new tls.TLSSocket(socket, options);
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
      const peer = this.requestPeer ? secured.getPeerCertificate() : null;
      if (!this.peerAccepted(secured, peer)) {
        secured.destroy();
        done(null, null);
        return;
      }
      const version = secured.getProtocol() ?? '';
      const cipher = secured.getCipher().name;
      this.stats.negotiated(version, cipher, secured.isSessionReused());
      const peerSubject = peer !== null && peer.subject !== undefined ? rfc2253(peer.subject) : '';
      done(secured, {
        version,
        cipher,
        serverName: typeof secured.servername === 'string' ? secured.servername : '',
        alpn: typeof secured.alpnProtocol === 'string' ? secured.alpnProtocol : '',
        peerSubject,
        clientCertificate: peerSubject === '' ? null : clientCertificateOf(secured, peerSubject),
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
    if (this.verifyChain && verifyError(secured) !== null) {
      this.stats.failVerifyError.inc();
      return false;
    }
    if (!this.pins.accept(peer)) {
      this.stats.failVerifyCertHash.inc();
      return false;
    }
    if (!this.sanMatchers.accept(peer)) {
      this.stats.failVerifySan.inc();
      return false;
    }
    return true;
  }
}

/**
 * Session tickets with the key every worker shares (made once on the primary), so that a client
 * resumes whichever worker its next connection reaches; none when stateless resumption is off.
 */
function ticketOptions(config: DownstreamTlsConfig): tls.SecureContextOptions {
  if (config.ticketKeys === '') return { secureOptions: constants.SSL_OP_NO_TICKET };
  return { ticketKeys: Buffer.from(config.ticketKeys, 'hex'), sessionTimeout: config.sessionTimeoutS };
}

/**
 * The engine's session ticket key (OpenSSL's 80 bytes: name, HMAC secret, AES key) derived from
 * the 48 bytes every worker shares, so that a client resumes on whichever worker it reaches.
 */
function engineTicketKey(hex: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(hex, 'hex'), '', 'legate engine session ticket key', 80));
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
