/**
 * Envoy's `connection_keepalive` for one HTTP/2 session (downstream or upstream): a PING after each
 * interval (plus up to `interval_jitter` percent of it at random); a PING not acknowledged within
 * the timeout calls `onTimeout`, which closes the connection.
 */
import type * as http2 from 'node:http2';
import type { Http2ProtocolOptions } from '../../config/http2-options';

export class Http2Keepalive {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly session: http2.Http2Session,
    private readonly options: Readonly<Http2ProtocolOptions>,
    private readonly onTimeout: () => void,
  ) {
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private arm(): void {
    const o = this.options;
    const jitter = (o.keepaliveIntervalMs * o.keepaliveJitterPercent * Math.random()) / 100;
    this.timer = setTimeout(this.sendPing, o.keepaliveIntervalMs + jitter);
    this.timer.unref();
  }

  private readonly sendPing = (): void => {
    if (this.stopped || this.session.destroyed) return;
    const timeout = setTimeout(() => {
      if (!this.stopped) this.onTimeout();
    }, this.options.keepaliveTimeoutMs);
    timeout.unref();
    const sent = this.session.ping((err) => {
      clearTimeout(timeout);
      if (err === null && !this.stopped) this.arm();
    });
    if (!sent) clearTimeout(timeout);
  };
}
