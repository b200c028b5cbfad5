/**
 * Loads Legate's optional N-API addon (native-bindings/, built by `npm install`) and reports
 * whether it is active. Loading never throws: a missing or broken addon only means Legate runs
 * on its pure-JS path, where each listener is served from one thread (see ./index.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The addon's exports; see native-bindings/src/legate_native.c for each one's contract. */
export interface NativeBindings {
  /**
   * A non-blocking, close-on-exec TCP listening socket fd with SO_REUSEADDR + SO_REUSEPORT.
   * `host` is an IPv4 or IPv6 literal; IPv6 sockets are v6-only unless `ipv4Compat`.
   * Throws a Node-style system error (`code`, `errno`, `syscall`) on failure.
   */
  listenReusePort(host: string, port: number, backlog: number, ipv4Compat?: boolean): number;
  /** The port `fd` is bound to. */
  localPort(fd: number): number;
  /** A close-on-exec copy of `fd`. */
  dup(fd: number): number;
  /** Closes an fd that no libuv handle owns (one never given to `listen({ fd })` or `net.Socket`). */
  close(fd: number): void;
  /**
   * The splice relay (Linux only; absent elsewhere, and from addons built before it existed):
   * see native-bindings/src/splice_relay.c and ./splice-relay.ts, its only caller.
   */
  spliceRelayInit?(onEnd: (id: number, reason: number) => void): void;
  spliceRelayStart?(id: number, fdA: number, fdB: number, pipeBytes: number): SpliceRelayHandle;
  spliceRelayStop?(handle: SpliceRelayHandle): void;
  /** out (length 4): bytes A→B, bytes B→A, times A's reading paused, resumed. */
  spliceRelayBytes?(handle: SpliceRelayHandle, out: Float64Array): void;
  spliceRelayCount?(): number;
  /**
   * The native HTTP/1.1 engine (native-bindings/src/engine/; absent from addons built before it):
   * see src/engine/native-engine.ts, its only caller, for the contract of each function.
   */
  engineCreate?(onEvent: (type: number, conn: number, a: number, b: number) => void): {
    control: ArrayBuffer;
  };
  engineData?(): ArrayBuffer;
  engineDestroy?(): void;
  engineListen?(
    fd: number,
    maxHeadBytes: number,
    maxHeaders: number,
    underscores: number,
    acceptHttp10: boolean,
    maxBodyBytes: number,
    replies: string[],
    detectHttp2: boolean,
    handOffUpgrades: boolean,
    tls: EngineTlsContext | null,
    handshakeTimeoutMs: number,
  ): number;
  /** Whether the engine can terminate TLS with the OpenSSL of this node binary (native-bindings/src/engine/tls.c). */
  tlsStatus?(): { available: boolean; reason: string };
  /** A TLS context for engineListen / engineListenerTls; throws with OpenSSL's reason. */
  engineTlsContext?(settings: EngineTlsSettings): EngineTlsContext;
  /** New handshakes of TLS listener `listener` use `context` (its certificates were read again). */
  engineListenerTls?(listener: number, context: EngineTlsContext): void;
  serverWriteProxiedHead?(
    id: number,
    upstream: number,
    plan: number,
    serviceMs: number,
    flags: number,
  ): number;
  engineResponsePlan?(serverMode: number, serverName: string): number;
  engineStatusLines?(lines: (string | undefined)[]): void;
  /** The engine functions' interface version (engine.h LG_ENGINE_INTERFACE). */
  engineInterface?: number;
  engineStopListening?(listener: number): void;
  engineAdopt?(listener: number, fd: number): number;
  engineConnect?(ip: string, port: number): number;
  serverWriteHead?(
    conn: number,
    head: Uint8Array,
    headLength: number,
    framing: number,
    endStream: boolean,
    closeAfterResponse: boolean,
    status: number,
    pipeFrom: number,
  ): void;
  serverWriteData?(conn: number, data: Buffer | null, endStream: boolean): void;
  serverWriteText?(conn: number, text: string, endsResponse: boolean): void;
  serverGoAway?(conn: number): void;
  serverReplyPartial?(conn: number, text: string): boolean;
  clientWriteHead?(
    conn: number,
    head: Uint8Array,
    headLength: number,
    framing: number,
    endStream: boolean,
    headRequest: boolean,
    reusable: boolean,
    pipeFrom: number,
  ): void;
  clientWriteData?(conn: number, data: Buffer | null, endStream: boolean): void;
  clientWriteText?(conn: number, text: string): void;
  connReadDisable?(conn: number, disable: boolean): void;
  connClose?(conn: number): void;
  connBytes?(conn: number, out: Float64Array): void;
  /** Milliseconds since `conn` last read or wrote a byte; -1 once it is gone. */
  connIdleMs?(conn: number): number;
  /** tcp_proxy sessions on the engine (native-bindings/src/engine/l4_napi.c; see src/engine/l4-batch.ts). */
  engineListenL4?(fd: number, idleTimeoutMs: number, maxDurationMs: number, pipeBytes: number): number;
  engineAdoptL4?(listener: number, fd: number): number;
  engineL4Address?(ip: string, port: number): number;
  engineL4Drain?(listener: number): void;
  engineL4Records?(which: number): ArrayBuffer;
  engineL4Sessions?(): number;
  /**
   * The native HTTP/1 parser (native-bindings/src/engine/h1_parser.c, on Node's own llhttp):
   * whether it can run in this process, and if not why (absent from addons built before it).
   */
  h1Status?(): { available: boolean; reason: string; parserBytes: number; liveStashes: number };
  /** Test and benchmark hooks of that parser: see native-bindings/src/engine/h1_parser_napi.c. */
  h1ParseForTest?(type: 'request' | 'response', chunks: Buffer[], options?: object): unknown[][];
  llhttpRawForTest?(type: 'request' | 'response', chunks: Buffer[]): unknown[][];
  h1BenchForTest?(type: 'request' | 'response', data: Buffer, iterations: number): number;
}

/** A TLS context of the engine (an SSL_CTX), freed when collected. */
export type EngineTlsContext = { readonly __brand: 'EngineTlsContext' };

/** What the engine builds a TLS context from (a DownstreamTlsContext as src/transport/tls/config.ts parsed it). */
export interface EngineTlsSettings {
  /** At most one per key type (OpenSSL serves the first the client can use). */
  certificates: { chain: string; key: string; password: string }[];
  /** Protocol versions as OpenSSL numbers them (0x0303: TLS 1.2). */
  minVersion: number;
  maxVersion: number;
  /** TLS ≤ 1.2 suites, OpenSSL's list syntax. */
  cipherList: string;
  /** TLS 1.3 suites. */
  ciphersuites: string;
  /** ecdh_curves as an OpenSSL groups list. */
  groups: string;
  /** ALPN protocols in wire format (each length-prefixed), preference order; empty: no ALPN. */
  alpn: Buffer;
  /** 80 bytes (OpenSSL's ticket key: name, HMAC secret, AES key), or null: no session tickets. */
  ticketKey: Buffer | null;
  sessionTimeoutS: number;
  /** The server's order of cipher suites wins (Envoy's default; prefer_client_ciphers turns it off). */
  serverCipherOrder: boolean;
}

/** An opaque native relay; invalid once passed to `spliceRelayStop`. */
export type SpliceRelayHandle = { readonly __brand: 'SpliceRelayHandle' };

/** Shown by `legate --version` and `/server_info`. */
export interface NativeStatus {
  active: boolean;
  reason: string;
}

export interface NativeProbe {
  bindings: NativeBindings | null;
  status: NativeStatus;
}

/**
 * Where native-bindings/build.js leaves the addon: under the nearest ancestor of this compiled
 * file that holds native-bindings/binding.gyp, so any outDir (dist/, .build/<name>/) finds it.
 */
export const DEFAULT_ADDON_PATH = path.join(
  findPackageRoot(__dirname),
  'native-bindings',
  'build',
  'Release',
  'legate_native.node',
);

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'native-bindings', 'binding.gyp'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..', '..');
  }
}

const REQUIRED_FUNCTIONS: readonly (keyof NativeBindings)[] = [
  'listenReusePort',
  'localPort',
  'dup',
  'close',
];

/**
 * Tries to load the addon at `addonPath`, honouring `LEGATE_NATIVE=0` in `env`. Uncached and
 * side-effect free apart from the dlopen, so tests can probe arbitrary paths.
 */
export function probeNative(addonPath: string, env: NodeJS.ProcessEnv): NativeProbe {
  if (env.LEGATE_NATIVE === '0') return inactive('disabled by LEGATE_NATIVE=0');
  if (!existsSync(addonPath)) {
    return inactive(`not built (${addonPath} is missing; run npm install with a C toolchain)`);
  }
  const addon = { exports: {} as Record<string, unknown> };
  try {
    process.dlopen(addon, addonPath);
  } catch (err) {
    return inactive(`failed to load ${addonPath}: ${(err as Error).message}`);
  }
  const missing = REQUIRED_FUNCTIONS.filter((name) => typeof addon.exports[name] !== 'function');
  if (missing.length > 0) return inactive(`${addonPath} lacks ${missing.join(', ')} (stale build?)`);
  return {
    bindings: addon.exports as unknown as NativeBindings,
    status: { active: true, reason: `loaded ${addonPath}` },
  };
}

function inactive(reason: string): NativeProbe {
  return { bindings: null, status: { active: false, reason } };
}

let probed: NativeProbe | undefined;

function probeOnce(): NativeProbe {
  probed ??= probeNative(DEFAULT_ADDON_PATH, process.env);
  return probed;
}

/** The addon, loaded once per thread; null when disabled, missing or unloadable. Never throws. */
export function loadNative(): NativeBindings | null {
  return probeOnce().bindings;
}

/** Whether the addon is active and why (or why not). */
export function nativeStatus(): NativeStatus {
  return { ...probeOnce().status };
}
