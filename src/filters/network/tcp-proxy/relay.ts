/**
 * What a tcp_proxy session needs from the thing that moves its bytes: the JS streams relay
 * (js-relay.ts) or the native splice relay (splice-relay.ts). Both propagate half-close (FIN one
 * way while the other keeps flowing) and resets, and keep at most a bounded number of bytes in
 * flight per direction.
 */

/** How a relay ended by itself. */
export const enum RelayEnd {
  /** Both directions finished with FIN; both sockets are closed. */
  Clean,
  /** The downstream connection failed (reset); the upstream was reset in turn. */
  DownstreamReset,
  /** The upstream connection failed (reset); the downstream was reset in turn. */
  UpstreamReset,
}

export interface RelayOwner {
  /** Called once, when both sockets are closed, unless `close()` came first. */
  onRelayEnd(end: RelayEnd): void;
}

export interface Relay {
  /** Bytes read from the downstream and sent upstream, as of the last `sample()`. */
  readonly toUpstream: number;
  /** Bytes read from the upstream and sent downstream, as of the last `sample()`. */
  readonly toDownstream: number;
  /**
   * Times the downstream stopped being read because its bytes waited for the upstream, and was read
   * again (Envoy's downstream_flow_control_paused/resumed_reading_total), as of the last `sample()`.
   */
  readonly downstreamReadingPaused: number;
  readonly downstreamReadingResumed: number;
  /** Brings the byte counts up to date (cheap; called on the session's stats tick). */
  sample(): void;
  /** Closes both connections now, dropping what is in flight (timeouts); `onRelayEnd` will not run. */
  close(): void;
}
