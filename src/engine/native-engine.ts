/**
 * The native HTTP/1.1 engine of one worker thread, JS side. The C engine
 * (native-bindings/src/engine/) owns sockets, parsing, framing and the relay of bodies between a
 * downstream and an upstream connection; everything that decides — the HTTP connection manager,
 * filters, router, load balancers, connection pools, stats — stays the JS that the JS codecs run
 * with. The engine plugs in at the two codec interfaces of src/http/codec.ts:
 *
 * - downstream: an `EngineServerConnection` per accepted connection is the `ServerConnection` the
 *   connection manager gets (instead of Legate's codec on a `net.Socket`);
 * - upstream: `engineConnector` opens connections for the pools (instead of `net.connect` + the JS
 *   client codec), each an `EngineClientConnection`.
 *
 * The C engine reports events through one function (`onEvent`), with payloads (heads, body bytes)
 * in the exchange (exchange.ts). Body bytes reach JS only when a filter needs them: when both ends
 * of an exchange are engine connections and the filters are body-agnostic, the router asks for the
 * body to be piped, and only its end is reported (see `pipeBodyFrom` in codec.ts).
 */
import { loadNative, type NativeBindings } from '../native';
import type { EngineTlsContext, EngineTlsSettings } from '../native/bindings';
import { Exchange } from './exchange';
import { llhttpMethodNames } from '../http/llhttp';
import type { ProxiedResponsePlan } from '../http/codec';
import { statusLinesByStatus } from '../http/local-reply';
import type { EngineServerConnection } from './engine-server-connection';
import type { EngineClientConnection } from './engine-client-connection';
import { L4Batches, type EngineL4Handler } from './l4-batch';

/** engine.h lg_event. */
export const enum EngineEvent {
  ACCEPTED = 1,
  REQUEST_BEGIN = 2,
  REQUEST_HEAD = 3,
  REQUEST_DATA = 4,
  REQUEST_TRAILERS = 5,
  PROTOCOL_ERROR = 6,
  DOWNSTREAM_WATERMARK = 7,
  DOWNSTREAM_CLOSED = 8,
  CONNECTED = 9,
  CONNECT_FAILED = 10,
  RESPONSE_1XX = 11,
  RESPONSE_HEAD = 12,
  RESPONSE_DATA = 13,
  RESPONSE_COMPLETE = 14,
  UPSTREAM_RESET = 15,
  UPSTREAM_WATERMARK = 16,
  UPSTREAM_CLOSED = 17,
  REQUEST_RESET = 18,
  L4_BATCH = 19,
  HANDED_OFF = 20,
  UPGRADE_HANDED_OFF = 21,
  TLS_FAILED = 22,
}

/** engine.h lg_server_header. */
const SERVER_MODES = { OVERWRITE: 0, APPEND_IF_ABSENT: 1, PASS_THROUGH: 2 } as const;

/** engine.h LG_ENGINE_INTERFACE: the argument lists and events this file and its peers use. */
const ENGINE_INTERFACE = 9;

const ENGINE_FUNCTIONS = [
  'engineCreate',
  'engineData',
  'engineDestroy',
  'engineListen',
  'engineStopListening',
  'engineAdopt',
  'engineConnect',
  'serverWriteHead',
  'serverWriteProxiedHead',
  'engineResponsePlan',
  'engineStatusLines',
  'serverWriteData',
  'serverWriteText',
  'serverGoAway',
  'serverReplyPartial',
  'clientWriteHead',
  'clientWriteData',
  'clientWriteText',
  'connReadDisable',
  'connClose',
  'connBytes',
  'connIdleMs',
  'engineListenL4',
  'engineAdoptL4',
  'engineL4Address',
  'engineL4Drain',
  'engineL4Records',
  'engineL4Sessions',
  'engineTlsContext',
  'engineListenerTls',
] as const;
export type EngineBindings = Required<Pick<NativeBindings, (typeof ENGINE_FUNCTIONS)[number]>>;

/** Receives the events of the connections accepted on one engine listener. */
export interface EngineListenerHandler {
  /** A connection (on a TLS listener: secured, its facts in `engine.exchange.tlsFacts()`). */
  onAccepted(engine: NativeEngine, conn: number): void;
  /** A TLS listener's connection `conn` closed before its handshake succeeded (JS never heard of it). */
  onTlsFailed?(conn: number, timedOut: boolean): void;
}

/** A listener's TLS as the engine terminates it: its context and handshake timeout. */
export interface EngineListenerTls {
  context: EngineTlsContext;
  /** transport_socket_connect_timeout (0: none). */
  handshakeTimeoutMs: number;
}

/** One worker's engine; `create()` returns null when this addon or this node cannot run one. */
export class NativeEngine {
  readonly exchange: Exchange;
  /** Engine connections by id (the C engine reuses an id only after reporting its close). */
  readonly servers: (EngineServerConnection | undefined)[] = [];
  readonly clients: (EngineClientConnection | undefined)[] = [];
  /** By engine listener id; undefined once stopped (a reload's removed listener is then freed). */
  private readonly listeners: (EngineListenerHandler | undefined)[] = [];
  private readonly l4Handlers: EngineL4Handler[] = [];
  private readonly l4Batches: L4Batches;
  /** engineL4Address ids by `address:port`: each host is registered with the engine once. */
  private readonly l4Addresses = new Map<string, number>();
  private destroyed = false;

  private constructor(readonly bindings: EngineBindings) {
    const created = bindings.engineCreate(this.onEvent);
    // llhttp numbers methods the same in every 9.x build: the wasm codec's names serve the engine's.
    this.exchange = new Exchange(created.control, () => bindings.engineData(), llhttpMethodNames());
    this.l4Batches = new L4Batches((which) => bindings.engineL4Records(which), this.l4Handlers);
    bindings.engineStatusLines(statusLinesByStatus());
  }

  /** The engine's id of a connection manager's response plan (registered on first use). */
  responsePlanId(plan: ProxiedResponsePlan): number {
    let id = this.responsePlans.get(plan);
    if (id === undefined) {
      id = this.bindings.engineResponsePlan(SERVER_MODES[plan.serverMode], plan.serverName);
      this.responsePlans.set(plan, id);
    }
    return id;
  }
  private readonly responsePlans = new Map<ProxiedResponsePlan, number>();

  /** Why the engine cannot run here (with `env`'s settings), or null when it can. */
  static unavailableReason(env: NodeJS.ProcessEnv = process.env): string | null {
    if (env.LEGATE_ENGINE === 'js') return 'disabled by LEGATE_ENGINE=js';
    const native = loadNative();
    if (native === null) return 'the native addon is not active';
    if (native.engineInterface !== ENGINE_INTERFACE) {
      return `the addon's engine interface is ${native.engineInterface ?? 'absent'}, this Legate needs ${ENGINE_INTERFACE} (stale build? node native-bindings/build.js)`;
    }
    const missing = ENGINE_FUNCTIONS.filter((f) => typeof native[f] !== 'function');
    if (missing.length > 0) return `the addon lacks ${missing.join(', ')} (stale build?)`;
    const parser = native.h1Status?.();
    if (parser === undefined) return 'the addon has no native HTTP/1 parser (stale build?)';
    if (!parser.available) return `native HTTP/1 parser: ${parser.reason}`;
    return null;
  }

  /**
   * Why the engine cannot terminate TLS here (its TLS listeners stay on Node's TLS), or null when
   * it can. `LEGATE_ENGINE_TLS=js` keeps TLS on Node's TLS while the engine serves plaintext.
   */
  static tlsUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | null {
    if (env.LEGATE_ENGINE_TLS === 'js') return 'disabled by LEGATE_ENGINE_TLS=js';
    const status = loadNative()?.tlsStatus?.();
    if (status === undefined) return 'the addon has no TLS (stale build?)';
    return status.available ? null : `OpenSSL in this node binary: ${status.reason}`;
  }

  /** A TLS context for `listen` (throws with OpenSSL's reason). */
  tlsContext(settings: EngineTlsSettings): EngineTlsContext {
    return this.bindings.engineTlsContext(settings);
  }

  /** New handshakes of TLS listener `listener` use `context` (connections already secured keep theirs). */
  useTlsContext(listener: number, context: EngineTlsContext): void {
    this.bindings.engineListenerTls(listener, context);
  }

  /** This thread's engine, or null with the reason logged by the caller (`unavailableReason`). */
  static create(): NativeEngine | null {
    if (NativeEngine.unavailableReason() !== null) return null;
    return new NativeEngine(loadNative() as unknown as EngineBindings);
  }

  /**
   * Serves connections accepted on `fd` (a listening socket; the engine closes it when stopped).
   * `detectHttp2` (codec_type AUTO): a connection that opens with the HTTP/2 preface is handed back
   * (`EngineServerConnection.onHandedOff`), as a Node socket, to be served by the HTTP/2 codec;
   * `handOffUpgrades`: likewise a connection whose request asks for an upgrade (Upgrade, CONNECT),
   * to be served by Legate's JS codec, which tunnels. `tls`: the engine terminates TLS on every
   * connection (which then hands nothing off; the caller chose such a listener accordingly).
   */
  listen(
    fd: number,
    limits: {
      maxHeadBytes: number;
      maxHeaders: number;
      underscores: number;
      acceptHttp10: boolean;
      maxBodyBytes: number;
      replies: string[];
    },
    detectHttp2: boolean,
    handOffUpgrades: boolean,
    handler: EngineListenerHandler,
    tls: EngineListenerTls | null = null,
  ): number {
    const id = this.bindings.engineListen(
      fd,
      limits.maxHeadBytes,
      limits.maxHeaders,
      limits.underscores,
      limits.acceptHttp10,
      limits.maxBodyBytes,
      limits.replies,
      detectHttp2,
      handOffUpgrades,
      tls?.context ?? null,
      tls?.handshakeTimeoutMs ?? 0,
    );
    this.listeners[id] = handler;
    return id;
  }

  /**
   * Serves tcp_proxy sessions accepted on `fd` (or, with fd -1, only those handed over with
   * `adoptL4`): the engine connects and splices them, `handler` picks hosts and counts (l4-batch.ts).
   */
  listenL4(
    fd: number,
    options: { idleTimeoutMs: number; maxDurationMs: number; pipeBytes: number },
    handler: EngineL4Handler,
  ): number {
    const id = this.bindings.engineListenL4(
      fd,
      options.idleTimeoutMs,
      options.maxDurationMs,
      options.pipeBytes,
    );
    this.l4Handlers[id] = handler;
    return id;
  }

  /** A connection the primary accepted (exact_balance) becomes a session of L4 listener `listener`. */
  adoptL4(listener: number, fd: number): number {
    return this.bindings.engineAdoptL4(listener, fd);
  }

  /** Sessions of `listener` close once quiet, after the drain's grace at the latest. */
  drainL4(listener: number): void {
    this.bindings.engineL4Drain(listener);
  }

  /** The id picks name `address`:`port` by (registered on first use). */
  l4Address(key: string, address: string, port: number): number {
    let id = this.l4Addresses.get(key);
    if (id === undefined) {
      id = this.bindings.engineL4Address(address, port);
      this.l4Addresses.set(key, id);
    }
    return id;
  }

  /** Connections `listener` accepts from now on go to `handler` (a reload's new filter chains). */
  retarget(listener: number, handler: EngineListenerHandler): void {
    this.listeners[listener] = handler;
  }

  stopListening(listener: number): void {
    this.listeners[listener] = undefined;
    this.bindings.engineStopListening(listener);
  }

  /** Closes every socket the engine has (the worker is going away). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.bindings.engineDestroy();
  }

  private readonly onEvent = (type: number, conn: number, a: number, b: number): void => {
    try {
      this.dispatch(type, conn, a, b);
    } finally {
      this.exchange.endEvent();
    }
  };

  private dispatch(type: number, conn: number, a: number, b: number): void {
    switch (type) {
      case EngineEvent.ACCEPTED: {
        // An accept reported in the same batch as its listener's stop has no one to serve it.
        const listener = this.listeners[a];
        if (listener === undefined) this.bindings.connClose(conn);
        else listener.onAccepted(this, conn);
        return;
      }
      case EngineEvent.DOWNSTREAM_CLOSED: {
        const server = this.servers[conn];
        this.servers[conn] = undefined;
        server?.onClosed(a);
        return;
      }
      case EngineEvent.UPSTREAM_CLOSED: {
        const client = this.clients[conn];
        this.clients[conn] = undefined;
        client?.onClosed(a);
        return;
      }
      case EngineEvent.HANDED_OFF:
      case EngineEvent.UPGRADE_HANDED_OFF: {
        const server = this.servers[conn];
        this.servers[conn] = undefined;
        // The bytes read so far are copied: the exchange is reused by the next event.
        const read = Buffer.from(this.exchange.body(b));
        server?.onHandedOff(a, read, type === EngineEvent.HANDED_OFF ? 'http2-preface' : 'upgrade');
        return;
      }
      case EngineEvent.TLS_FAILED:
        this.listeners[a]?.onTlsFailed?.(conn, b === 2);
        return;
      case EngineEvent.L4_BATCH:
        this.l4Batches.deliver(conn, a, b);
        return;
      case EngineEvent.CONNECT_FAILED: {
        const client = this.clients[conn];
        this.clients[conn] = undefined;
        client?.onConnectFailed(a);
        return;
      }
    }
    if (type <= EngineEvent.DOWNSTREAM_WATERMARK || type === EngineEvent.REQUEST_RESET) {
      this.servers[conn]?.onEngineEvent(type, a, b);
    } else {
      this.clients[conn]?.onEngineEvent(type, a, b);
    }
  }
}
