/**
 * The access-log view of a request answered before it became a stream: refused by the codec
 * (Envoy's `DPE`), or timed out while its head was still arriving. Envoy has a stream for such a
 * request from its first byte and logs it like any other; Legate makes streams at headers-complete,
 * so the connection manager logs these through this object instead. There is no request head:
 * %REQ()% prints '-', as Envoy prints for a head it could not parse.
 */
import type * as net from 'node:net';
import { ConnectionLogStream } from '../../../access-log/connection-log';

export class UnstreamedRequestLog extends ConnectionLogStream {
  override readonly protocol = 'HTTP/1.1';

  constructor(
    socket: net.Socket,
    /** Monotonic ms of the request's first byte, and now. */
    startMs: number,
    nowMs: number,
    override readonly responseCode: number,
    /** Envoy response flag, or ''. */
    flag: string,
  ) {
    super(socket, startMs, nowMs);
    if (flag !== '') this.addFlag(flag);
  }
}
