/**
 * One listener on one worker (Envoy's ActiveTcpListener): it accepts connections — on its own
 * SO_REUSEPORT socket, on a plain socket, or through uWS — and runs the listener's network filter
 * chain on each. Built once per worker from the validated ListenerConfig.
 *
 * The listener's `access_log` (Envoy logs there what no filter chain logs) gets one line per
 * connection that ended before any request started: when the chain serves requests (its terminal
 * filter is an HTTP connection manager), a connection that closed without having sent a single
 * byte (opened and closed, idle-timed out, or closed by a drain before its first request).
 * tcp_proxy starts its session on accept, so its connections are logged by tcp_proxy's own
 * access_log, never here. Connections accepted by uWS are not seen here.
 */
import * as net from 'node:net';
import { createAccessLoggers } from '../access-log/access-logs';
import { buildAll, buildAt, buildEach, ConfigBuildError } from '../config/build-error';
import type { AccessLogger } from '../access-log/api';
import { ConnectionLogStream } from '../access-log/connection-log';
import type { ListenerConfig } from '../config/bootstrap';
import {
  FilterStatus,
  type NetworkFilter,
  type NetworkFilterFactory,
  type TerminalNetworkFilter,
} from '../filters/network/api';
import { listenOnFd } from '../native';
import type { WorkerServices } from '../worker/services';
import type { Counter, Gauge } from '../stats/store';
import { listenerStatPrefix } from '../stats/names';
import { startUwsListener, type UwsListener } from '../http/uws/uws-listener';
import type { NativeEngine, EngineListenerHandler } from '../engine/native-engine';
import { EngineServerConnection } from '../engine/engine-server-connection';
import { engineCodecLimits } from '../engine/codec-limits';
import type { HttpConnectionManager } from '../filters/network/http-connection-manager/connection-manager';
import { TcpProxyFilter } from '../filters/network/tcp-proxy/tcp-proxy';
import type { EngineSessionHooks } from '../filters/network/tcp-proxy/engine-sessions';

/** Where this worker's socket for a listener comes from (decided by the primary). */
export interface ListenerSocketPlan {
  name: string;
  /** A SO_REUSEPORT fd opened by the primary for this worker, or null: listen on host:port ourselves. */
  fd: number | null;
  /** The port to use (already resolved when the listener asked for port 0 and a sibling bound it). */
  port: number;
  /**
   * exact_balance: the primary accepts and hands connections over (`adopt`); the worker does not
   * listen. `port` is the primary's.
   */
  handoff: boolean;
}

export class ActiveListener implements EngineListenerHandler, EngineSessionHooks {
  private server: net.Server | null = null;
  private uws: UwsListener | null = null;
  /** This worker's native engine, when it serves this listener (else null: Node sockets). */
  private readonly engine: NativeEngine | null;
  /** The chain's tcp_proxy when the engine runs its sessions (accept, connect, splice in C). */
  private readonly engineTcpProxy: TcpProxyFilter | null;
  private engineListener = -1;
  private readonly filters: NetworkFilter[];
  private readonly terminal: TerminalNetworkFilter;
  private readonly cxTotal: Counter;
  private readonly cxActive: Gauge;
  private readonly workerCxActive: Gauge;
  private readonly accessLoggers: AccessLogger[];
  private readonly now: () => number;
  /** Whether the chain serves requests, so that a connection that sent nothing started none. */
  private readonly servesRequests: boolean;
  boundPort = 0;

  constructor(
    readonly config: ListenerConfig,
    services: WorkerServices,
  ) {
    const chain = config.filterChains[0]!;
    const ctx = { workerIndex: services.workerIndex, listener: config, services };
    [this.filters, this.accessLoggers] = buildAll(
      () =>
        buildEach(chain.filters, (f) =>
          buildAt(f.at, () =>
            (services.registry.get('network_filter', f.name) as NetworkFilterFactory).createFilter(
              f.config,
              ctx,
            ),
          ),
        ),
      () => createAccessLoggers(config.accessLog, services.registry, services.accessLogSinks),
    );
    this.terminal = this.filters[this.filters.length - 1] as TerminalNetworkFilter;
    if (config.http1Codec === 'uws' && this.terminal.httpCallbacks && this.filters.length > 1) {
      throw new ConfigBuildError([
        {
          path: `${config.at}.legate_http1_codec`,
          message:
            'the uws codec accepts its own connections, so the network filters before ' +
            'http_connection_manager would never run; use the legate codec here',
        },
      ]);
    }
    this.servesRequests = this.terminal.httpCallbacks !== undefined;
    this.now = services.now;
    const prefix = listenerStatPrefix(config.address.address, config.address.port);
    this.cxTotal = services.stats.counter(prefix + 'downstream_cx_total');
    this.cxActive = services.stats.gauge(prefix + 'downstream_cx_active');
    this.workerCxActive = services.stats.gauge(
      `${prefix}worker_${services.workerIndex}.downstream_cx_active`,
    );
    const tcpProxy = this.terminal instanceof TcpProxyFilter ? this.terminal : null;
    const l4Off = tcpProxy === null ? null : this.engineL4Ineligibility(services.nativeEngine, tcpProxy);
    this.engineTcpProxy = tcpProxy !== null && l4Off === null ? tcpProxy : null;
    this.engine =
      this.engineTcpProxy !== null || this.engineServes(services.nativeEngine) ? services.nativeEngine : null;
    tcpProxy?.logDataPath(this.engineTcpProxy !== null, l4Off);
  }

  /**
   * Why the engine cannot run the sessions of this tcp_proxy listener, or null when it can: every
   * filter before tcp_proxy must decide without a Node socket (`admitsConnection`).
   */
  private engineL4Ineligibility(engine: NativeEngine | null, tcpProxy: TcpProxyFilter): string | null {
    if (engine === null) return 'the native engine is off';
    for (let i = 0; i < this.filters.length - 1; i++)
      if (this.filters[i]!.admitsConnection === undefined) return 'network filters before tcp_proxy';
    return tcpProxy.engineIneligibility();
  }

  /**
   * The native engine serves a listener whose chain is an HTTP connection manager alone on Legate's
   * codec; network filters before it need a Node socket per connection, and so does the listener
   * access log (connections that never sent a request), so those listeners stay on Node's sockets.
   */
  private engineServes(engine: NativeEngine | null): engine is NativeEngine {
    return (
      engine !== null &&
      this.filters.length === 1 &&
      this.config.http1Codec === 'legate' &&
      this.accessLoggers.length === 0 &&
      (this.terminal as Partial<HttpConnectionManager>).acceptConnection !== undefined
    );
  }

  /** 'native' when the native engine serves this listener on this worker, else 'js'. */
  get path(): 'native' | 'js' {
    return this.engine !== null ? 'native' : 'js';
  }

  /** Starts accepting; resolves with the bound port. */
  async start(plan: ListenerSocketPlan): Promise<number> {
    const { address } = this.config;
    if (this.engineTcpProxy !== null && (plan.handoff || plan.fd !== null)) {
      this.engineListener = this.engineTcpProxy.listenOnEngine(
        this.engine!,
        plan.handoff ? -1 : plan.fd!,
        this,
      );
      this.boundPort = plan.port;
      return this.boundPort;
    }
    if (this.engine !== null && (plan.handoff || plan.fd !== null)) {
      const hcm = this.terminal as HttpConnectionManager;
      this.engineListener = this.engine.listen(
        plan.handoff ? -1 : plan.fd!,
        engineCodecLimits(hcm.codecSettings),
        this,
      );
      this.boundPort = plan.port;
      return this.boundPort;
    }
    if (plan.handoff) {
      this.boundPort = plan.port;
      return this.boundPort;
    }
    if (this.config.http1Codec === 'uws' && this.terminal.httpCallbacks) {
      this.uws = await startUwsListener(
        { host: address.address, port: plan.port },
        this.terminal.httpCallbacks(),
      );
      this.boundPort = this.uws.port;
      return this.boundPort;
    }
    const server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      if (plan.fd !== null) {
        listenOnFd(server, plan.fd, (err) => (err ? reject(err) : resolve()));
      } else {
        server.once('error', reject);
        server.listen({ host: address.address, port: plan.port, backlog: 4096 }, () => {
          server.off('error', reject);
          resolve();
        });
      }
    });
    const bound = server.address();
    this.boundPort = typeof bound === 'object' && bound !== null ? bound.port : plan.port;
    return this.boundPort;
  }

  /** Stops accepting at once (startup failure): a uWS listen socket must never outlive its thread. */
  close(): void {
    this.stopAccepting();
    this.uws?.close();
  }

  /**
   * Stops accepting, then lets the filter chain finish its in-flight work. A uWS listener's
   * remaining (idle) connections are closed once the chain says it is done.
   */
  drain(done: () => void): void {
    this.stopAccepting();
    this.terminal.drain(() => {
      this.uws?.close();
      done();
    });
  }

  private stopAccepting(): void {
    this.server?.close();
    this.uws?.stopAccepting();
    if (this.engineListener !== -1) this.engine!.stopListening(this.engineListener);
  }

  /**
   * exact_balance on the native engine: serves the fd the primary handed over; `onClosed` runs when
   * the connection ends. False when Node's sockets serve this listener (the caller adopts the fd).
   */
  adoptFd(fd: number, onClosed: () => void): boolean {
    if (this.engine === null) return false;
    const id =
      this.engineTcpProxy !== null
        ? this.engineTcpProxy.adoptOnEngine(fd)
        : this.engine.bindings.engineAdopt(this.engineListener, fd);
    if (id >= 0) this.adoptedClosers.set(id, onClosed);
    else onClosed();
    return true;
  }

  /** Connections adopted by id: HTTP until the engine announces them (ACCEPTED), tcp_proxy until they end. */
  private readonly adoptedClosers = new Map<number, () => void>();

  /** The native engine accepted connection `id` (EngineListenerHandler). */
  onAccepted(engine: NativeEngine, id: number): void {
    const conn = new EngineServerConnection(engine, id);
    this.cxTotal.inc();
    this.cxActive.inc();
    this.workerCxActive.inc();
    const adopted = this.adoptedClosers.get(id);
    if (adopted === undefined) conn.onClosedHook = this.onEngineConnectionClosed;
    else {
      this.adoptedClosers.delete(id);
      conn.onClosedHook = () => {
        this.onEngineConnectionClosed();
        adopted();
      };
    }
    (this.terminal as HttpConnectionManager).acceptConnection(conn, (callbacks) => conn.attach(callbacks));
  }

  private readonly onEngineConnectionClosed = (): void => {
    this.cxActive.dec();
    this.workerCxActive.dec();
  };

  /** A tcp_proxy session on the engine started; the filters before tcp_proxy decide (EngineSessionHooks). */
  sessionStarted(): boolean {
    this.cxTotal.inc();
    this.cxActive.inc();
    this.workerCxActive.inc();
    for (let i = 0; i < this.filters.length - 1; i++) if (!this.filters[i]!.admitsConnection!()) return false;
    return true;
  }

  /** A tcp_proxy session on the engine ended (EngineSessionHooks). */
  sessionEnded(session: number): void {
    this.onEngineConnectionClosed();
    const adopted = this.adoptedClosers.get(session);
    if (adopted === undefined) return;
    this.adoptedClosers.delete(session);
    adopted();
  }

  /**
   * Serves a connection the primary accepted and handed over (exact_balance), set up as this
   * listener's own server would set up an accepted socket.
   */
  adopt(socket: net.Socket): void {
    socket.allowHalfOpen = false;
    socket.setNoDelay(true);
    this.onConnection(socket);
  }

  private onConnection(socket: net.Socket): void {
    this.cxTotal.inc();
    this.cxActive.inc();
    this.workerCxActive.inc();
    const log =
      this.servesRequests && this.accessLoggers.length > 0
        ? new ConnectionLogStream(socket, this.now())
        : null;
    socket.once('close', () => {
      this.cxActive.dec();
      this.workerCxActive.dec();
      if (log !== null && socket.bytesRead === 0)
        log.logEnd(this.now(), 0, socket.bytesWritten, this.accessLoggers);
    });
    for (let i = 0; i < this.filters.length; i++) {
      if (this.filters[i]!.onNewConnection(socket) === FilterStatus.StopIteration) return;
    }
  }
}
