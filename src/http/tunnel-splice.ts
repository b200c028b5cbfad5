/**
 * Moves an upgraded stream's bytes (a tunnel: after a 101, or a 2xx to CONNECT) between its two
 * sockets with the addon's splice relay (native/splice-relay.ts, the thread tcp_proxy uses), so
 * they no longer pass through JS. The codecs keep their sockets and their stream's state; the
 * relay only moves bytes, passes each FIN on (half-close) and reports how the tunnel ended, which
 * the codecs then play out as if they had seen it (the stream's ends, resets, byte counts), so
 * the connection manager and the router finish the exchange as for a tunnel relayed in JS.
 *
 * The router offers a tunnel each time it has carried SPLICE_AFTER_BYTES through JS: a relay costs
 * six fds (two duplicates, two pipes), which thousands of idle WebSockets are better off without,
 * and the relay itself refuses once half the process's fd limit is in use (splice_relay.c).
 *
 * The switch keeps the bytes in order: both sockets stop reading first, then every byte JS has
 * already written (the 101's head, bytes that came with the head or after it) reaches the kernel,
 * and only then does the relay start. A tunnel not ready then (its reads paused by flow control,
 * bytes read but not yet handled) or that the relay refuses (EMFILE) goes on in JS until the next
 * offer.
 */
import type * as net from 'node:net';
import {
  SpliceEnd,
  SpliceRelay,
  resumeReading,
  spliceRelayAvailable,
  stopReading,
  type SpliceRelayOwner,
} from '../native';
import type { HandleWithFd } from '../native/socket-handoff';
import type { SplicedTunnel, TunnelSide } from './codec';

/** A tunnel is offered to the relay once this many bytes (both ways) passed through JS. */
export const SPLICE_AFTER_BYTES = 64 * 1024;
/** Pipe capacity per direction: the buffer limit, within the kernel's range (as tcp_proxy's). */
const MIN_PIPE_BYTES = 64 * 1024;
const MAX_PIPE_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

const enum State {
  /** Waiting for the turn after the offer. */
  Waiting,
  /** Reads stopped; waiting for what JS wrote to reach the kernel. */
  Flushing,
  Running,
  /** The relay ended, was stopped, or the move was given up. */
  Over,
}

class TunnelSplice implements SplicedTunnel, SpliceRelayOwner {
  private state = State.Waiting;
  private flushesPending = 0;
  private relay: SpliceRelay | null = null;

  constructor(
    private readonly downstream: TunnelSide,
    private readonly upstream: TunnelSide,
    private readonly pipeBytes: number,
  ) {
    // After this turn: bytes that came with the 101 (or before it) are still on their way through JS.
    setImmediate(this.attempt);
  }

  get toUpstream(): number {
    return this.counter(0);
  }

  get toDownstream(): number {
    return this.counter(1);
  }

  idleMs(): number {
    return this.relay === null ? -1 : this.counter(4);
  }

  stop(): void {
    if (this.state === State.Over) return;
    this.state = State.Over;
    this.relay?.stop();
  }

  onSpliceEnd(end: SpliceEnd): void {
    this.stop();
    if (end === SpliceEnd.ResetA) this.downstream.resetSplicedTunnel();
    else if (end === SpliceEnd.ResetB) this.upstream.resetSplicedTunnel();
    else {
      this.downstream.endSplicedTunnel();
      this.upstream.endSplicedTunnel();
    }
  }

  private counter(i: number): number {
    const relay = this.relay;
    if (relay === null) return 0;
    if (this.state === State.Running) relay.sample();
    return relay.counters[i]!;
  }

  private readonly attempt = (): void => {
    if (this.state !== State.Waiting) return;
    const a = this.downstream.tunnelSocket();
    const b = this.upstream.tunnelSocket();
    // Ended meanwhile, or not ready (another offer may be moving it already).
    if (a === null || b === null || !this.downstream.readyToSplice() || !this.upstream.readyToSplice()) {
      this.state = State.Over;
      return;
    }
    this.state = State.Flushing;
    stopReading(a);
    stopReading(b);
    this.downstream.setSplicedTunnel(this);
    this.upstream.setSplicedTunnel(this);
    // Writes complete in order: these callbacks run once everything written before is in the kernel.
    this.flushesPending = 2;
    a.write(EMPTY, this.onFlushed);
    b.write(EMPTY, this.onFlushed);
  };

  private readonly onFlushed = (): void => {
    if (--this.flushesPending > 0 || this.state !== State.Flushing) return;
    const a = this.downstream.tunnelSocket();
    const b = this.upstream.tunnelSocket();
    if (a !== null && b !== null && !a.destroyed && !b.destroyed) {
      try {
        this.relay = SpliceRelay.start(a, b, this.pipeBytes, this);
        this.state = State.Running;
        return;
      } catch {
        // The relay could not start (out of fds): JS carries on.
      }
    }
    this.state = State.Over;
    if (a !== null) resumeReading(a);
    if (b !== null) resumeReading(b);
    this.downstream.setSplicedTunnel(null);
    this.upstream.setSplicedTunnel(null);
  };
}

/**
 * Moves the tunnel between `downstream` and `upstream` to the splice relay at the next turn, if it
 * can: both sides have a plain TCP socket, the relay exists on this thread, and both are ready
 * then. `bufferLimit` bounds the bytes in flight per direction. The codecs learn of it through
 * their TunnelSide.
 */
export function spliceTunnel(downstream: TunnelSide, upstream: TunnelSide, bufferLimit: number): void {
  if (!spliceRelayAvailable()) return;
  if (!isPlainTcp(downstream.tunnelSocket()) || !isPlainTcp(upstream.tunnelSocket())) return;
  const pipeBytes = Math.min(MAX_PIPE_BYTES, Math.max(MIN_PIPE_BYTES, bufferLimit));
  new TunnelSplice(downstream, upstream, pipeBytes);
}

/**
 * The socket's part of TunnelSide.readyToSplice: no bytes read but not yet handled, and neither
 * direction ended (a FIN seen or sent in JS would not reach the relay).
 */
export function socketReadyToSplice(socket: net.Socket): boolean {
  return socket.readableLength === 0 && !socket.readableEnded && !socket.writableEnded;
}

/** A TCP socket whose fd carries the stream's bytes as they are (not TLS, not a JS stream). */
function isPlainTcp(socket: net.Socket | null): boolean {
  if (socket === null || (socket as { encrypted?: boolean }).encrypted === true) return false;
  const fd = (socket as unknown as HandleWithFd)._handle?.fd;
  return typeof fd === 'number' && fd >= 0;
}
