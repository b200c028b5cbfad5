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
 *
 * A reload that changes the listener builds a new one that takes over this one's socket
 * (`takeOver`); this one then drains.
 */
import * as net from 'node:net';
import { createAccessLoggers } from '../access-log/access-logs';
import { buildAll, buildAt, buildEach, ConfigBuildError } from '../config/build-error';
import type { AccessLogger } from '../access-log/api';
import { ConnectionLogStream } from '../access-log/connection-log';
import type { FilterChainConfig, HttpConnectionManagerConfig, ListenerConfig } from '../config/bootstrap';
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
import { NativeEngine, type EngineListenerHandler, type EngineListenerTls } from '../engine/native-engine';
import type { EngineTlsContext } from '../native/bindings';
import { log } from '../common/log';
import { EngineServerConnection } from '../engine/engine-server-connection';
import { engineCodecLimits } from '../engine/codec-limits';
import { HttpConnectionManager } from '../filters/network/http-connection-manager/connection-manager';
import {
  downstreamInfoOf,
  type DownstreamTransport,
  type DownstreamTransportSocketFactory,
  type EngineTerminableTransport,
  type TlsConnectionInfo,
} from '../transport/api';
import {
  ListenerFilterResult,
  type ConnectionFacts,
  type ListenerFilter,
  type ListenerFilterFactory,
  unexaminedConnection,
} from '../filters/listener/api';
import { FilterChainSelector } from './filter-chain-selector';
import { ipBytes } from '../common/cidr';
import { TcpProxyFilter } from '../filters/network/tcp-proxy/tcp-proxy';
import { sameConfig } from '../config/same-config';
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

/** One filter chain of a listener on one worker: its transport socket and network filters. */
class ActiveFilterChain {
  readonly filters: NetworkFilter[];
  readonly terminal: TerminalNetworkFilter;
  /** Null: plaintext. */
  readonly transport: DownstreamTransport | null;
  /** Whether the chain serves requests, so that a connection that sent nothing started none. */
  readonly servesRequests: boolean;

  constructor(
    /** Replaced when only its routes change (`ActiveListener.updateRoutes`). */
    public config: FilterChainConfig,
    listener: ListenerConfig,
    services: WorkerServices,
    listenerStatPrefix: string,
  ) {
    const ctx = { workerIndex: services.workerIndex, listener, chain: config, services };
    this.filters = buildEach(config.filters, (f) =>
      buildAt(f.at, () =>
        (services.registry.get('network_filter', f.name) as NetworkFilterFactory).createFilter(f.config, ctx),
      ),
    );
    this.terminal = this.filters[this.filters.length - 1] as TerminalNetworkFilter;
    this.servesRequests = this.terminal.httpCallbacks !== undefined;
    const socket = config.transportSocket;
    this.transport =
      socket === null
        ? null
        : buildAt(socket.at, () =>
            (
              services.registry.get(
                'downstream_transport_socket',
                socket.name,
              ) as DownstreamTransportSocketFactory
            ).createTransport(socket.config, { stats: services.stats, listenerStatPrefix }),
          );
  }

  /**
   * The swap that gives this chain `next`'s routes, when its HTTP connection manager's routes are all
   * that differ (see HttpConnectionManager.routeUpdate); null otherwise.
   */
  routeUpdate(next: FilterChainConfig): (() => void) | null {
    const last = next.filters.length - 1;
    const hcm = this.terminal;
    if (!(hcm instanceof HttpConnectionManager) || last !== this.config.filters.length - 1) return null;
    const same = (a: FilterChainConfig): unknown => ({ ...a, filters: a.filters.slice(0, last) });
    const terminal = next.filters[last]!;
    if (!sameConfig(same(this.config), same(next)) || terminal.name !== this.config.filters[last]!.name)
      return null;
    const swap = hcm.routeUpdate(terminal.config as HttpConnectionManagerConfig);
    if (swap === null) return null;
    return () => {
      swap();
      this.config = next;
    };
  }

  /** Hands a connection (secured, if the chain has a transport socket) to the chain's filters. */
  serve(socket: net.Socket, peeked: Buffer | null): void {
    for (let i = 0; i < this.filters.length; i++) {
      if (this.filters[i]!.onNewConnection(socket, peeked) === FilterStatus.StopIteration) return;
    }
  }
}

/** A listener's config without its filter chains (which `updateRoutes` compares one by one). */
function withoutChains(l: ListenerConfig): unknown {
  return { ...l, filterChains: null, defaultFilterChain: null };
}

/**
 * What the uws codec cannot serve (`legate_http1_codec: uws`): it accepts its own connections and
 * asks for an HCM per request, so a chain that needs more of it is a config error there.
 */
function refuseUwsCodec(listenerAt: string, first: ActiveFilterChain): void {
  const hcm = first.terminal as Partial<HttpConnectionManager>;
  const refusals: [boolean, string][] = [
    [
      first.terminal.httpCallbacks !== undefined && first.filters.length > 1,
      'the uws codec accepts its own connections, so the network filters before ' +
        'http_connection_manager would never run; use the legate codec here',
    ],
    [
      hcm.servesHttp1Only === false,
      'the uws codec serves HTTP/1.1 only, and this http_connection_manager has codec_type HTTP2',
    ],
    [
      hcm.mayUpgrade === true,
      'the uws codec cannot turn a connection into a tunnel, and this http_connection_manager ' +
        'enables upgrades (upgrade_configs); use the legate codec here',
    ],
    [
      hcm.limitsConnections === true,
      'the uws codec keeps no state per connection, and this http_connection_manager limits ' +
        'connections (max_requests_per_connection / max_connection_duration); use the legate codec here',
    ],
  ];
  const refusal = refusals.find(([applies]) => applies);
  if (refusal !== undefined)
    throw new ConfigBuildError([{ path: `${listenerAt}.legate_http1_codec`, message: refusal[1] }]);
}

export class ActiveListener implements EngineListenerHandler, EngineSessionHooks {
  private server: net.Server | null = null;
  private uws: UwsListener | null = null;
  /** This worker's native engine, when it serves this listener (else null: Node sockets). */
  private readonly engine: NativeEngine | null;
  /** The chain's tcp_proxy when the engine runs its sessions (accept, connect, splice in C). */
  private readonly engineTcpProxy: TcpProxyFilter | null;
  private engineListener = -1;
  /** The chain's TLS when the engine terminates it (null: plaintext, or not on the engine). */
  private readonly engineTls: EngineTerminableTransport | null = null;
  /** The engine's context for it (replaced when its certificates are read again). */
  private engineTlsContext: EngineTlsContext | null = null;
  /** `filter_chains` then `default_filter_chain`. */
  private readonly chains: ActiveFilterChain[];
  /** Null when one chain serves every connection (no criteria to check). */
  private readonly selector: FilterChainSelector<ActiveFilterChain> | null;
  private readonly listenerFilters: ListenerFilter[];
  private readonly cxTotal: Counter;
  private readonly cxActive: Gauge;
  private readonly workerCxActive: Gauge;
  private readonly noFilterChainMatch: Counter;
  private readonly preCxTimeout: Counter;
  private readonly handshakeTimeouts: Counter;
  private readonly accessLoggers: AccessLogger[];
  private readonly now: () => number;
  /** The listener access log has connections to log: some chain serves requests. */
  private readonly logsConnections: boolean;
  boundPort = 0;

  constructor(
    /** Replaced when only its routes change (`updateRoutes`). */
    public config: ListenerConfig,
    services: WorkerServices,
  ) {
    const prefix = listenerStatPrefix(config.address.address, config.address.port);
    const chainConfigs = config.defaultFilterChain
      ? [...config.filterChains, config.defaultFilterChain]
      : config.filterChains;
    [this.chains, this.accessLoggers, this.listenerFilters] = buildAll(
      () => buildEach(chainConfigs, (chain) => new ActiveFilterChain(chain, config, services, prefix)),
      () => createAccessLoggers(config.accessLog, services.registry, services.accessLogSinks),
      () =>
        buildEach(config.listenerFilters, (f) =>
          buildAt(f.at, () =>
            (services.registry.get('listener_filter', f.name) as ListenerFilterFactory).createFilter(
              f.config,
              services.stats,
            ),
          ),
        ),
    );
    const first = this.chains[0]!;
    if (config.http1Codec === 'uws') refuseUwsCodec(config.at, first);
    const matched = this.chains.slice(0, config.filterChains.length);
    this.selector =
      this.chains.length === 1 && config.filterChains.length === 1 && !hasCriteria(config.filterChains[0]!)
        ? null
        : new FilterChainSelector(
            matched.map((chain) => ({ match: chain.config.match, value: chain })),
            config.defaultFilterChain ? this.chains[this.chains.length - 1]! : null,
          );
    this.now = services.now;
    this.logsConnections = this.accessLoggers.length > 0 && this.chains.some((c) => c.servesRequests);
    this.cxTotal = services.stats.counter(prefix + 'downstream_cx_total');
    this.cxActive = services.stats.gauge(prefix + 'downstream_cx_active');
    this.workerCxActive = services.stats.gauge(
      `${prefix}worker_${services.workerIndex}.downstream_cx_active`,
    );
    this.noFilterChainMatch = services.stats.counter(prefix + 'no_filter_chain_match');
    this.preCxTimeout = services.stats.counter(prefix + 'downstream_pre_cx_timeout');
    this.handshakeTimeouts = services.stats.counter(
      prefix + 'downstream_cx_transport_socket_connect_timeout',
    );
    const only = this.onlyChain;
    const engineTcpProxy = only?.terminal instanceof TcpProxyFilter ? only.terminal : null;
    const l4Off = engineTcpProxy === null ? null : this.engineL4Ineligibility(services.nativeEngine, only!);
    this.engineTcpProxy = engineTcpProxy !== null && l4Off === null ? engineTcpProxy : null;
    const engineHttp = this.engineServes(services.nativeEngine);
    const tlsOff = engineHttp ? this.engineTlsIneligibility(services.nativeEngine!, only!) : null;
    this.engine =
      this.engineTcpProxy !== null || (engineHttp && tlsOff === null) ? services.nativeEngine : null;
    if (engineHttp && only!.transport !== null) {
      if (tlsOff === null) this.engineTls = only!.transport.engine!;
      if (services.workerIndex === 0)
        log.info(
          `listener '${config.name}': ${tlsOff === null ? 'TLS terminated by the native engine' : `TLS on Node's TLS sockets (not on the native engine: ${tlsOff})`}`,
        );
    }
    for (const chain of this.chains) {
      if (!(chain.terminal instanceof TcpProxyFilter)) continue;
      const off = chain === only ? l4Off : 'several filter chains or listener filters';
      chain.terminal.logDataPath(chain.terminal === this.engineTcpProxy, off);
    }
  }

  /**
   * Why the engine cannot run the sessions of this listener's one tcp_proxy chain, or null when it
   * can: the chain is plaintext and every filter before tcp_proxy decides without a Node socket
   * (`admitsConnection`).
   */
  private engineL4Ineligibility(engine: NativeEngine | null, chain: ActiveFilterChain): string | null {
    if (engine === null) return 'the native engine is off';
    if (chain.transport !== null) return 'TLS';
    const filters = chain.filters;
    for (let i = 0; i < filters.length - 1; i++)
      if (filters[i]!.admitsConnection === undefined) return 'network filters before tcp_proxy';
    return (chain.terminal as TcpProxyFilter).engineIneligibility();
  }

  /**
   * Why the engine cannot terminate the TLS of the listener's one chain, or null when it can (or
   * the chain is plaintext); the engine's context is built here, at config time.
   */
  private engineTlsIneligibility(engine: NativeEngine, chain: ActiveFilterChain): string | null {
    if (chain.transport === null) return null;
    const tls = chain.transport.engine;
    if (tls === undefined) return 'a transport socket the engine does not terminate';
    const reason = NativeEngine.tlsUnavailableReason() ?? tls.engineIneligibility;
    if (reason !== null) return reason;
    try {
      this.engineTlsContext = engine.tlsContext(tls.engineSettings());
    } catch (err) {
      return `OpenSSL refused the context: ${(err as Error).message}`;
    }
    return null;
  }

  /** The chain serving every connection when there is no choice to make (engine and uWS need one). */
  private get onlyChain(): ActiveFilterChain | null {
    return this.selector === null && this.listenerFilters.length === 0 ? this.chains[0]! : null;
  }

  /**
   * The native engine serves a listener whose one chain is an HTTP connection manager alone on
   * Legate's codec, not restricted to HTTP/2 (`codec_type: HTTP2` runs on node:http2), plaintext or
   * TLS the engine terminates (`engineTlsIneligibility`); a choice among chains, listener filters
   * and network filters before the HCM need a Node socket per connection, and so does the listener
   * access log (connections that never sent a request), so those listeners stay on Node's sockets.
   * When the HCM may enable upgrades, the engine hands each connection whose request asks for one to
   * Legate's JS codec, which tunnels (`continueOnSocket`); with codec_type AUTO, a TLS connection
   * that negotiated ALPN h2 goes to node:http2 the same way (the engine keeps its TLS session and
   * relays the plaintext over a socketpair).
   */
  private engineServes(engine: NativeEngine | null): engine is NativeEngine {
    const chain = this.onlyChain;
    return (
      engine !== null &&
      chain !== null &&
      chain.filters.length === 1 &&
      this.config.http1Codec === 'legate' &&
      this.accessLoggers.length === 0 &&
      (chain.terminal as Partial<HttpConnectionManager>).servesHttp1Only === true
    );
  }

  /** 'native' when the native engine serves this listener on this worker, else 'js'. */
  get path(): 'native' | 'js' {
    return this.engine !== null ? 'native' : 'js';
  }

  /**
   * A reload (or an LDS or RDS update) changed only the routes of this listener's HTTP connection
   * managers: puts them in place and returns true; the connections stay, and their new requests are
   * routed by the new routes at once (Envoy's RDS semantics). False, with nothing changed, when
   * anything else differs: the listener is rebuilt then.
   */
  updateRoutes(next: ListenerConfig): boolean {
    const nextChains = next.defaultFilterChain
      ? [...next.filterChains, next.defaultFilterChain]
      : next.filterChains;
    if (nextChains.length !== this.chains.length) return false;
    if (!sameConfig(withoutChains(this.config), withoutChains(next))) return false;
    const swaps: (() => void)[] = [];
    for (let i = 0; i < this.chains.length; i++) {
      const chain = this.chains[i]!;
      const nextChain = nextChains[i]!;
      if (sameConfig(chain.config, nextChain)) continue;
      const swap = chain.routeUpdate(nextChain);
      if (swap === null) return false;
      swaps.push(swap);
    }
    for (const swap of swaps) swap();
    this.config = next;
    return true;
  }

  /** The clusters whose objects this listener's filters hold (tcp_proxy binds them when built). */
  boundClusters(): string[] {
    const names: string[] = [];
    for (const chain of this.chains)
      if (chain.terminal instanceof TcpProxyFilter)
        for (const t of chain.terminal.targets) names.push(t.name);
    return names;
  }

  /**
   * A reload changed this listener's config: this (built, not started) listener takes over `old`'s
   * listening socket, so no connection waiting in its accept queue is lost, and new connections
   * get the new filter chains while `old`'s connections drain (the caller drains `old`). Node's
   * server and the engine's HTTP listener are handed over as they are when the data path stays the
   * same; otherwise this listener listens on a duplicate of old's fd (`dup`: the addon's), or, for
   * exact_balance and uWS, as `old` did. Resolves with the bound port.
   */
  async takeOver(old: ActiveListener, dup: ((fd: number) => number) | null): Promise<number> {
    const plan = old.plan!;
    this.boundPort = old.boundPort;
    if (old.server !== null && this.servesOnNodeServer(plan)) {
      this.server = old.server;
      old.server = null;
      this.server.removeAllListeners('connection');
      this.server.on('connection', (socket: net.Socket) => this.onConnection(socket));
      this.plan = plan;
      return this.boundPort;
    }
    const uwsCallbacks = this.uwsChain(plan)?.terminal.httpCallbacks?.();
    if (old.uws !== null && uwsCallbacks !== undefined) {
      // uWS owns its connections and asks for an HCM per request: the open ones move over too.
      this.uws = old.uws;
      old.uws = null;
      this.uws.retarget(uwsCallbacks);
      this.plan = plan;
      return this.boundPort;
    }
    const oldHcm = old.engineListener !== -1 && old.engineTcpProxy === null ? old.engineHcm() : null;
    const newHcm = this.engine !== null && this.engineTcpProxy === null ? this.engineHcm() : null;
    if (
      // A TLS listener's context belongs to its config: the new one listens with its own.
      old.engineTls === null &&
      this.engineTls === null &&
      oldHcm !== null &&
      newHcm !== null &&
      sameConfig(engineCodecLimits(oldHcm.codecSettings), engineCodecLimits(newHcm.codecSettings)) &&
      oldHcm.detectsHttp2 === newHcm.detectsHttp2 &&
      oldHcm.mayUpgrade === newHcm.mayUpgrade
    ) {
      this.engine!.retarget(old.engineListener, this);
      this.engineListener = old.engineListener;
      old.engineListener = -1;
      this.plan = plan;
      return this.boundPort;
    }
    if (plan.fd === null || dup === null) return this.start({ ...plan, port: old.boundPort });
    return this.start({ ...plan, fd: dup(plan.fd) });
  }

  /** Whether `start(plan)` would accept on a Node server (not the engine, uWS or hand-off). */
  private servesOnNodeServer(plan: ListenerSocketPlan): boolean {
    return !plan.handoff && this.engine === null && this.uwsChain(plan) === null;
  }

  /** The chain `start(plan)` would serve through uWS, or null. */
  private uwsChain(plan: ListenerSocketPlan): ActiveFilterChain | null {
    if (plan.handoff || this.engine !== null || this.config.http1Codec !== 'uws') return null;
    const chain = this.onlyChain;
    return chain?.terminal.httpCallbacks ? chain : null;
  }

  private engineHcm(): HttpConnectionManager {
    return this.onlyChain!.terminal as HttpConnectionManager;
  }

  /** Where this listener's socket came from (set by `start`). */
  private plan: ListenerSocketPlan | null = null;

  /** Starts accepting; resolves with the bound port. */
  async start(plan: ListenerSocketPlan): Promise<number> {
    this.plan = plan;
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
      const hcm = this.engineHcm();
      this.engineListener = this.engine.listen(
        plan.handoff ? -1 : plan.fd!,
        engineCodecLimits(hcm.codecSettings),
        hcm.detectsHttp2,
        hcm.mayUpgrade,
        this,
        this.engineListenerTls(),
      );
      this.boundPort = plan.port;
      return this.boundPort;
    }
    if (plan.handoff) {
      this.boundPort = plan.port;
      return this.boundPort;
    }
    const uwsChain = this.uwsChain(plan);
    if (uwsChain?.terminal.httpCallbacks) {
      this.uws = await startUwsListener(
        { host: address.address, port: plan.port },
        uwsChain.terminal.httpCallbacks(),
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
    let pending = this.chains.length;
    for (const chain of this.chains) {
      chain.terminal.drain(() => {
        if (--pending > 0) return;
        this.uws?.close();
        done();
      });
    }
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

  private engineListenerTls(): EngineListenerTls | null {
    if (this.engineTlsContext === null) return null;
    return {
      context: this.engineTlsContext,
      handshakeTimeoutMs: this.onlyChain!.config.transportSocketConnectTimeoutMs,
    };
  }

  /**
   * A handshake ended on the engine: certificates that changed on disk are read again (at most
   * every 500 ms, as the JS path does before a handshake) and serve the next handshakes.
   */
  private reloadEngineTls(engine: NativeEngine): void {
    const tls = this.engineTls!;
    if (!tls.reloadIfChanged(this.now())) return;
    try {
      this.engineTlsContext = engine.tlsContext(tls.engineSettings());
      engine.useTlsContext(this.engineListener, this.engineTlsContext);
    } catch (err) {
      log.warn(
        `listener '${this.config.name}': reloaded certificates refused by the native engine, keeping the current ones: ${(err as Error).message}`,
      );
    }
  }

  /** A TLS connection failed its handshake on the engine (EngineListenerHandler), as the JS path counts it. */
  onTlsFailed(id: number, timedOut: boolean): void {
    this.cxTotal.inc();
    if (timedOut) this.handshakeTimeouts.inc();
    this.engineTls!.engineHandshakeFailed();
    const adopted = this.adoptedClosers.get(id);
    if (adopted !== undefined) {
      this.adoptedClosers.delete(id);
      adopted();
    }
    this.reloadEngineTls(this.engine!);
  }

  /** The native engine accepted connection `id` (EngineListenerHandler). */
  onAccepted(engine: NativeEngine, id: number): void {
    const conn = new EngineServerConnection(engine, id);
    if (this.engineTls !== null) {
      const info = this.engineTls.engineSecured(engine.exchange.tlsFacts());
      downstreamInfoOf.set(conn, { requestedServerName: info.serverName, tls: info, addresses: null });
      this.reloadEngineTls(engine);
    }
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
    const hcm = this.onlyChain!.terminal as HttpConnectionManager;
    hcm.acceptConnection(conn, (downstream) =>
      conn.attach(downstream, (socket, reason) => hcm.continueOnSocket(downstream, socket, reason)),
    );
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
    const filters = this.onlyChain!.filters;
    for (let i = 0; i < filters.length - 1; i++) if (!filters[i]!.admitsConnection!()) return false;
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
    const log = this.logsConnections ? new ConnectionLogStream(socket, this.now()) : null;
    let served: ActiveFilterChain | null = null;
    socket.once('close', () => {
      this.cxActive.dec();
      this.workerCxActive.dec();
      if (log !== null && (served === null || served.servesRequests) && socket.bytesRead === 0)
        log.logEnd(this.now(), 0, socket.bytesWritten, this.accessLoggers);
    });
    const only = this.onlyChain;
    if (only !== null && only.transport === null) {
      served = only;
      only.serve(socket, null);
      return;
    }
    const facts = unexaminedConnection();
    this.runListenerFilters(socket, facts, () => {
      const chain = this.selectChain(socket, facts);
      if (chain === null) {
        this.noFilterChainMatch.inc();
        socket.destroy();
        return;
      }
      served = chain;
      this.secureAndServe(chain, socket, facts);
    });
  }

  /**
   * Runs the listener filters in order, within listener_filters_timeout: at the timeout the
   * connection is closed (downstream_pre_cx_timeout), or served with what was learned when
   * continue_on_listener_filters_timeout is set.
   */
  private runListenerFilters(socket: net.Socket, facts: ConnectionFacts, then: () => void): void {
    const filters = this.listenerFilters;
    if (filters.length === 0) {
      then();
      return;
    }
    let abandon: (() => void) | null = null;
    const { listenerFiltersTimeoutMs, continueOnListenerFiltersTimeout } = this.config;
    const timer =
      listenerFiltersTimeoutMs > 0
        ? setTimeout(() => {
            abandon?.();
            this.preCxTimeout.inc();
            if (continueOnListenerFiltersTimeout) then();
            else socket.destroy();
          }, listenerFiltersTimeoutMs)
        : null;
    const next = (i: number): void => {
      if (i === filters.length) {
        if (timer !== null) clearTimeout(timer);
        then();
        return;
      }
      abandon = filters[i]!.onAccept(socket, facts, (result) => {
        if (result === ListenerFilterResult.Continue) next(i + 1);
        else if (timer !== null) clearTimeout(timer);
      });
    };
    next(0);
  }

  private selectChain(socket: net.Socket, facts: ConnectionFacts): ActiveFilterChain | null {
    if (this.selector === null) return this.chains[0]!;
    // The PROXY protocol's addresses, when a listener filter restored them (as Envoy matches).
    const restored = facts.addresses;
    const source = restored?.remoteAddress ?? socket.remoteAddress ?? '';
    const destination = restored?.localAddress ?? socket.localAddress ?? '';
    const sourceIp = ipBytes(source);
    return this.selector.select({
      destinationPort: restored?.localPort ?? socket.localPort ?? 0,
      destinationIp: ipBytes(destination),
      serverName: facts.serverName,
      // Envoy's default when no listener filter detected a protocol.
      transportProtocol: facts.transportProtocol || 'raw_buffer',
      applicationProtocols: facts.applicationProtocols,
      sourceIp,
      sourcePort: restored?.remotePort ?? socket.remotePort ?? 0,
      sourceIsLocal: source === destination || (sourceIp !== null && isLoopback(sourceIp)),
    });
  }

  /**
   * Runs the chain's TLS handshake (bounded by transport_socket_connect_timeout), then hands the
   * connection to its filters; a plaintext chain gets the socket and any peeked bytes at once.
   */
  private secureAndServe(chain: ActiveFilterChain, socket: net.Socket, facts: ConnectionFacts): void {
    const { peeked, serverName, addresses } = facts;
    const transport = chain.transport;
    if (transport === null) {
      if (serverName !== '' || addresses !== null)
        downstreamInfoOf.set(socket, { requestedServerName: serverName, tls: null, addresses });
      chain.serve(socket, peeked);
      return;
    }
    if (peeked !== null) socket.unshift(peeked);
    const limitMs = chain.config.transportSocketConnectTimeoutMs;
    const timer =
      limitMs > 0
        ? setTimeout(() => {
            this.handshakeTimeouts.inc();
            socket.destroy();
          }, limitMs)
        : null;
    transport.start(
      socket,
      (secured: net.Socket | null, info: TlsConnectionInfo | null) => {
        if (timer !== null) clearTimeout(timer);
        if (secured === null) return;
        downstreamInfoOf.set(secured, { requestedServerName: info!.serverName, tls: info, addresses });
        chain.serve(secured, null);
      },
      facts.transportProtocol === 'tls' ? serverName : undefined,
    );
  }
}

/** Whether the chain has criteria to check (else it serves every connection). */
function hasCriteria(chain: FilterChainConfig): boolean {
  const m = chain.match;
  return (
    m.destinationPort !== 0 ||
    m.prefixRanges.length > 0 ||
    m.serverNames.length > 0 ||
    m.transportProtocol !== '' ||
    m.applicationProtocols.length > 0 ||
    m.sourceType !== 'ANY' ||
    m.sourcePrefixRanges.length > 0 ||
    m.sourcePorts.length > 0
  );
}

/** 127.0.0.0/8 (as ::ffff:127.x.x.x) or ::1. */
function isLoopback(ip: Uint8Array): boolean {
  const v4Mapped = ip[10] === 0xff && ip[11] === 0xff && ip.subarray(0, 10).every((b) => b === 0);
  if (v4Mapped) return ip[12] === 127;
  return ip.subarray(0, 15).every((b) => b === 0) && ip[15] === 1;
}
