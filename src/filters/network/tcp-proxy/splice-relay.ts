/**
 * tcp_proxy's zero-copy relay: the addon's splice relay (src/native/splice-relay.ts) behind the
 * session's Relay interface. The sockets stay owned here; the native thread moves the bytes and
 * reports how the connection ended, then both sockets are closed the way the end requires: a
 * clean end closes both (FIN went both ways already), a reset on one side resets the other.
 */
import type * as net from 'node:net';
import { SpliceEnd, SpliceRelay as NativeSpliceRelay, type SpliceRelayOwner } from '../../../native';
import { RelayEnd, type Relay, type RelayOwner } from './relay';

/** Pipe capacity per direction: what per_connection_buffer_limit_bytes allows, within the kernel's range. */
const MIN_PIPE_BYTES = 64 * 1024;
const MAX_PIPE_BYTES = 1024 * 1024;

export class SpliceRelay implements Relay, SpliceRelayOwner {
  private readonly native: NativeSpliceRelay;

  /** Throws if the native relay cannot start (the session then relays in JS). */
  constructor(
    private readonly downstream: net.Socket,
    private readonly upstream: net.Socket,
    bufferLimit: number,
    private readonly owner: RelayOwner,
  ) {
    const pipeBytes = Math.min(MAX_PIPE_BYTES, Math.max(MIN_PIPE_BYTES, bufferLimit));
    this.native = NativeSpliceRelay.start(downstream, upstream, pipeBytes, this);
  }

  get toUpstream(): number {
    return this.native.counters[0]!;
  }

  get toDownstream(): number {
    return this.native.counters[1]!;
  }

  get downstreamReadingPaused(): number {
    return this.native.counters[2]!;
  }

  get downstreamReadingResumed(): number {
    return this.native.counters[3]!;
  }

  sample(): void {
    this.native.sample();
  }

  close(): void {
    this.native.stop();
    this.downstream.destroy();
    this.upstream.destroy();
  }

  onSpliceEnd(end: SpliceEnd): void {
    // Stop first: a reset is sent only when the relay's dups of the fds are closed too.
    this.native.stop();
    if (end === SpliceEnd.ResetA) this.upstream.resetAndDestroy();
    else this.upstream.destroy();
    if (end === SpliceEnd.ResetB) this.downstream.resetAndDestroy();
    else this.downstream.destroy();
    this.owner.onRelayEnd(
      end === SpliceEnd.Clean
        ? RelayEnd.Clean
        : end === SpliceEnd.ResetA
          ? RelayEnd.DownstreamReset
          : RelayEnd.UpstreamReset,
    );
  }
}
