/**
 * tcp_proxy's `tunneling_config` over HTTP/1.1: on a fresh upstream connection to an HTTP proxy,
 * asks for a tunnel with `CONNECT hostname` (Host: hostname, then `headers_to_add`) and reads the
 * answer's head. A 2xx opens the tunnel: what the proxy sent after the head is already tunnel data
 * (`leftover`). Anything else, a malformed or oversized head, the proxy closing, or no answer
 * within `timeoutMs`, fails it. As Envoy does, no downstream byte goes upstream before the answer.
 */
import type * as net from 'node:net';
import { ConnectionLogStream } from '../../../access-log/connection-log';
import { compileFormat, formatText, type Part } from '../../../access-log/format-string';
import type { TunnelingConfig } from './config';

/** Envoy's limit for HTTP/1 response heads (80 KiB). */
const MAX_HEAD_BYTES = 80 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})[ \r]/;

export interface ConnectHandshakeCallbacks {
  /** The proxy answered 2xx: `leftover` is the tunnel's first bytes from upstream (maybe empty). */
  onTunnelEstablished(upstream: net.Socket, leftover: Buffer): void;
  /** No tunnel (`detail` says why, for logs); the upstream connection is destroyed. */
  onTunnelFailed(detail: string): void;
}

/**
 * The CONNECT request head: written once when `hostname` and the header values are literal, else
 * for each connection, their command operators evaluated against its downstream connection (the
 * access log's formatter, as Envoy evaluates them against the connection's stream info).
 */
export class ConnectRequestHead {
  private readonly literal: string | null;
  private readonly hostname: Part[];
  private readonly headers: { key: string; value: Part[] }[];

  constructor(config: TunnelingConfig) {
    this.hostname = compileFormat(config.hostname);
    this.headers = config.headersToAdd.map((h) => ({ key: h.key, value: compileFormat(h.value) }));
    const literal = [config.hostname, ...config.headersToAdd.map((h) => h.value)].every(
      (v) => !v.includes('%'),
    );
    this.literal = literal ? this.render((parts) => parts.map((p) => p.text).join('')) : null;
  }

  /** The head for `downstream`, accepted at monotonic `startMs` (now `nowMs`). */
  forConnection(downstream: net.Socket, startMs: number, nowMs: number): string {
    if (this.literal !== null) return this.literal;
    const stream = new ConnectionLogStream(downstream, startMs, nowMs);
    // A value is one line: nothing evaluated may end the field or the head.
    return this.render((parts) => formatText(parts, stream).replace(/[\r\n]/g, ''));
  }

  private render(value: (parts: Part[]) => string): string {
    const hostname = value(this.hostname);
    let head = `CONNECT ${hostname} HTTP/1.1\r\nhost: ${hostname}\r\n`;
    for (const h of this.headers) head += `${h.key}: ${value(h.value)}\r\n`;
    return head + '\r\n';
  }
}

export class ConnectHandshake {
  private received: Buffer = Buffer.alloc(0);
  private readonly timer: NodeJS.Timeout;
  private done = false;

  constructor(
    private readonly upstream: net.Socket,
    requestHead: string,
    timeoutMs: number,
    private readonly callbacks: ConnectHandshakeCallbacks,
  ) {
    this.timer = setTimeout(this.onTimeout, timeoutMs);
    upstream.on('data', this.onData);
    upstream.once('end', this.onEnd);
    upstream.once('close', this.onEnd);
    upstream.write(requestHead, 'latin1');
    upstream.resume();
  }

  /** Abandons the handshake (the downstream went away): the upstream connection is destroyed. */
  cancel(): void {
    if (this.finish()) this.upstream.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const end = this.received.indexOf(HEAD_END);
    if (end === -1) {
      if (this.received.length > MAX_HEAD_BYTES) this.fail('response head too large');
      return;
    }
    const head = this.received.toString('latin1', 0, end + 2);
    const status = STATUS_LINE.exec(head);
    if (status === null) {
      this.fail('malformed response');
      return;
    }
    const code = Number(status[1]);
    if (code < 200 || code > 299) {
      this.fail(`proxy answered ${code}`);
      return;
    }
    if (!this.finish()) return;
    this.upstream.pause();
    this.callbacks.onTunnelEstablished(this.upstream, this.received.subarray(end + HEAD_END.length));
  };

  private readonly onEnd = (): void => this.fail('proxy closed the connection');

  private readonly onTimeout = (): void => this.fail('no answer in time');

  private fail(detail: string): void {
    if (!this.finish()) return;
    this.upstream.destroy();
    this.callbacks.onTunnelFailed(detail);
  }

  /** Stops listening; false if the handshake was already over. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    this.upstream.removeListener('data', this.onData);
    this.upstream.removeListener('end', this.onEnd);
    this.upstream.removeListener('close', this.onEnd);
    return true;
  }
}
