/**
 * The accelerated downstream codec: a uWS.js (v20.30, native) HTTP/1.1 listener that hands each
 * request to the connection manager through the same `newStream(encoder) → RequestDecoder`
 * contract as Legate's own codec (`src/http/codec.ts`).
 *
 * uWS parses and frames HTTP in C++, so it is faster than llhttp on `net`, but it decides some
 * protocol questions itself (measured on this build; see also the report copied into the README):
 * no HTTP/1.0, no TLS, no 400/431 answers (bad input hangs ~10 s then closes), ~48 request headers
 * at most, `Expect: 100-continue` answered by uWS, any Transfer-Encoding treated as chunked, the
 * first of two differing Content-Lengths kept, a request pipelined behind an unanswered one closes
 * the connection, absolute-form and asterisk-form targets are not routed, and a backpressured or
 * idle response is closed after 10 s without progress.
 *
 * Each worker thread may call `startUwsListener` on the same port: uWS listens with SO_REUSEPORT on
 * Linux. A thread must `close()` its listener before it exits, or uWS aborts the whole process.
 */
import type { HttpRequest, HttpResponse, us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import type { RequestDecoder, ResponseEncoder } from '../codec';
import { loadNativeUws, type UwsApp, type UwsModule } from './native-uws';
import { readRequestHead, refusedFraming, requestHasBody } from './request-head';
import { UwsStream, type LocalEndpoint } from './uws-stream';

export interface UwsListenerOptions {
  /** An IP literal (uWS resolves names itself, without happy-eyeballs). */
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/** What the listener asks of its owner (the HTTP connection manager), once per request. */
export interface UwsListenerCallbacks {
  newStream(encoder: ResponseEncoder): RequestDecoder;
}

export interface UwsListener {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops accepting new connections; open ones keep being served (drain). Idempotent. */
  stopAccepting(): void;
  /**
   * Stops accepting and closes every open connection; in-flight streams get
   * `onResetStream('remote_reset')`. Idempotent. Must run before the owning thread exits.
   */
  close(): void;
  /**
   * Requests from now on, on new and open connections, go to `callbacks` (a reload's new HTTP
   * connection manager); the listen socket and its accept queue stay as they are.
   */
  retarget(callbacks: UwsListenerCallbacks): void;
}

class ActiveUwsListener implements UwsListener {
  readonly port: number;
  private listenSocket: us_listen_socket | null;
  private closed = false;

  constructor(
    private readonly uws: UwsModule,
    private readonly app: UwsApp,
    listenSocket: us_listen_socket,
    private readonly target: { callbacks: UwsListenerCallbacks },
  ) {
    this.listenSocket = listenSocket;
    this.port = uws.us_socket_local_port(listenSocket);
  }

  stopAccepting(): void {
    const socket = this.listenSocket;
    if (socket === null) return;
    this.listenSocket = null;
    this.uws.us_listen_socket_close(socket);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopAccepting();
    this.app.close();
  }

  retarget(callbacks: UwsListenerCallbacks): void {
    this.target.callbacks = callbacks;
  }
}

/** The uWS route handler body: runs synchronously while `req` is alive. */
function serveRequest(
  res: HttpResponse,
  req: HttpRequest,
  callbacks: UwsListenerCallbacks,
  local: LocalEndpoint,
): void {
  const head = readRequestHead(req);
  // Framing uWS reads differently from the Legate codec is refused before any owner sees it. The
  // Legate codec answers 400; a reply written here never reaches the client (measured with uWS
  // 20.30: it is dropped whether corked or not), so the connection is closed.
  if (refusedFraming(head) !== null) {
    res.close();
    return;
  }
  const stream = new UwsStream(res, head, local);
  const decoder = callbacks.newStream(stream);
  stream.decoder = decoder;
  const hasBody = requestHasBody(head);
  // onData must be attached before decodeHeaders: a synchronous local reply completes `res`,
  // after which uWS refuses any call on it.
  if (hasBody) stream.receiveBody();
  decoder.decodeHeaders(head, !hasBody);
}

/** Starts a uWS listener on `opts.host:opts.port`. Rejects if the address cannot be bound. */
export function startUwsListener(
  opts: UwsListenerOptions,
  callbacks: UwsListenerCallbacks,
): Promise<UwsListener> {
  const uws = loadNativeUws();
  const app = uws.App() as UwsApp;
  // The port is filled in once bound; no request can arrive before that.
  const local: LocalEndpoint = { address: opts.host, port: opts.port };
  const target = { callbacks };
  app.any('/*', (res, req) => serveRequest(res, req, target.callbacks, local));
  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (listenSocket) => {
      if (listenSocket === false) {
        app.close();
        reject(new Error(`uWS could not listen on ${opts.host}:${opts.port}`));
        return;
      }
      const listener = new ActiveUwsListener(uws, app, listenSocket, target);
      local.port = listener.port;
      resolve(listener);
    });
  });
}
