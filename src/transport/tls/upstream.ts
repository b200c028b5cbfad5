/**
 * TLS to a cluster's hosts (Envoy's ClientSslSocket) with node:tls, behind the connection pools'
 * SocketConnector seam: the pool gets the TLS socket once the handshake succeeded and the host's
 * certificate passed verification. One SecureContext per cluster per worker, built at startup.
 *
 * As in Envoy, a host's certificate is verified only with `validation_context.trusted_ca` (chain,
 * and `crl`), `verify_certificate_hash` / `verify_certificate_spki` (pins) and
 * `match_typed_subject_alt_names` (names); the host name itself is not checked otherwise. A
 * failure is a connect failure whose detail is Envoy's `TLS_error:|…:TLS_error_end` form, which
 * the router puts in its 503 body (`transport failure reason: …`) and logs as UF.
 */
import * as tls from 'node:tls';
import type { SocketConnector } from '../../upstream/transport';
import type { UpstreamTransportContext } from '../api';
import type { UpstreamTlsConfig } from './config';
import { secureContextOptions } from './downstream';
import { CertificatePins } from './pins';
import { SanMatchers } from './san';
import { SslStats } from './stats';

/** Envoy's wrapping of an OpenSSL error in a transport failure reason. */
export function tlsError(reason: string): string {
  return `TLS_error:|${reason}:TLS_error_end`;
}

/**
 * How Legate speaks TLS to a cluster's hosts: the connection options (certificates, versions, SNI,
 * ALPN) and the verdict on a host's certificate after the handshake. Shared by the pools and the
 * cluster's HTTP health checks.
 */
export class UpstreamTlsClient {
  readonly options: tls.ConnectionOptions;
  private readonly verifyChain: boolean;
  private readonly sans: SanMatchers;
  private readonly pins: CertificatePins;

  constructor(
    config: UpstreamTlsConfig,
    private readonly stats: SslStats | null,
  ) {
    const { common } = config;
    this.verifyChain = common.validation !== null && common.validation.trustedCa !== '';
    this.sans = new SanMatchers(common.validation?.matchSans ?? []);
    this.pins = new CertificatePins(common.validation);
    this.options = {
      secureContext: tls.createSecureContext(secureContextOptions(common)),
      servername: config.sni === '' ? undefined : config.sni,
      ALPNProtocols: common.alpnProtocols.length > 0 ? common.alpnProtocols : undefined,
      // Verification is decided on 'secureConnect' (below), so that it is counted and reported.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    };
  }

  /**
   * Why the host's certificate is refused, or null (counted under ssl.fail_verify_*).
   * `requestHost`: auto_san_validation's name, which the certificate must cover.
   */
  refusal(socket: tls.TLSSocket, requestHost?: string): string | null {
    const { stats } = this;
    if (this.verifyChain && !socket.authorized) {
      stats?.failVerifyError.inc();
      return `CERTIFICATE_VERIFY_FAILED (${String(socket.authorizationError)})`;
    }
    const peer = socket.getPeerCertificate();
    if (!this.pins.accept(peer)) {
      stats?.failVerifyCertHash.inc();
      return 'CERTIFICATE_VERIFY_FAILED (the certificate matches no verify_certificate_hash / verify_certificate_spki)';
    }
    if (!this.sans.accept(peer)) {
      stats?.failVerifySan.inc();
      return 'CERTIFICATE_VERIFY_FAILED (no subject alt name matches match_typed_subject_alt_names)';
    }
    if (requestHost !== undefined && tls.checkServerIdentity(requestHost, peer) !== undefined) {
      stats?.failVerifySan.inc();
      return `CERTIFICATE_VERIFY_FAILED (no subject alt name matches the request's host ${requestHost})`;
    }
    return null;
  }
}

export function upstreamTlsConnector(
  config: UpstreamTlsConfig,
  ctx: UpstreamTransportContext,
): SocketConnector {
  const stats = ctx.stats === null ? null : new SslStats(ctx.stats, ctx.clusterStatPrefix, config.common);
  const client = new UpstreamTlsClient(config, stats);
  /**
   * The last session each host gave this worker, offered on the next connection to it: a pool's
   * new connections resume instead of doing a full handshake (Envoy keeps sessions per context too).
   */
  const sessions = new Map<string, Buffer>();

  return (address, port, handler, options) => {
    const serverName = options?.serverName;
    const key = serverName === undefined ? `${address}:${port}` : `${address}:${port}/${serverName}`;
    // As Envoy, the pool's protocol is offered by ALPN when the context lists no protocols.
    const alpn =
      client.options.ALPNProtocols ?? (options?.alpn !== undefined ? [...options.alpn] : undefined);
    const socket = tls.connect({
      ...client.options,
      ...(serverName !== undefined ? { servername: serverName } : {}),
      ALPNProtocols: alpn,
      host: address,
      port,
      session: sessions.get(key),
    });
    socket.on('session', (session: Buffer) => sessions.set(key, session));
    socket.setNoDelay(true);
    let tcpConnected = false;
    const onTcpConnect = (): void => {
      tcpConnected = true;
    };
    const onSecure = (): void => {
      socket.removeListener('error', onError);
      const refused = client.refusal(socket, ctx.autoSanValidation ? serverName : undefined);
      if (refused !== null) {
        stats?.connectionError.inc();
        socket.destroy();
        handler.onConnectFailed(tlsError(refused));
        return;
      }
      stats?.negotiated(socket.getProtocol() ?? '', socket.getCipher().name, socket.isSessionReused());
      handler.onConnected(socket);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.removeListener('secureConnect', onSecure);
      if (!tcpConnected) {
        handler.onConnectFailed(`connect error: ${err.code ?? err.message}`);
        return;
      }
      stats?.connectionError.inc();
      handler.onConnectFailed(tlsError(err.code ?? err.message));
    };
    socket.once('connect', onTcpConnect);
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
    return socket;
  };
}
