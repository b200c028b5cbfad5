/**
 * What the generator needs from an HTTP/1.1 response parser, and nothing more: feed the bytes a
 * socket read, hear about each completed response (its status and whether the server keeps the
 * connection). Keeping the generator behind this small interface lets the parser underneath change
 * without touching the connection state machine.
 */

/** Told about each response as it completes; implemented by the generator connection. */
export interface ResponseSink {
  onResponseComplete(status: number, keepAlive: boolean): void;
}

export interface ResponseCounter {
  /**
   * Parses `data` (valid only during the call). Completed responses are reported to the sink
   * synchronously, in order. Returns false on a protocol error; the connection must then be
   * closed and the counter `reset()` before reuse.
   */
  feed(data: Buffer): boolean;
  /** The peer closed the connection: completes a response delimited by end-of-connection. */
  finish(): void;
  /** Forgets any partial response (new connection). */
  reset(): void;
  /** Frees the parser. */
  destroy(): void;
}
