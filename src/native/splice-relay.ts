/**
 * The JS side of the addon's splice relay (native-bindings/src/splice_relay.c): moves the bytes of
 * two connected sockets between each other with splice(2) on one native thread, so tcp_proxy's
 * bulk data never enters the JS heap. Linux only, and only with the addon; `spliceRelayAvailable()`
 * says whether this thread can use it (tcp_proxy falls back to its JS relay otherwise).
 *
 * The caller keeps both `net.Socket`s for the connection's life (listener accounting, close and
 * reset go through them); `stopReading` first takes each away from libuv's reads, so only the
 * relay thread reads the fds. The relay reports its end once (`onSpliceEnd`); the caller must then
 * call `stop()` — also to end it early — and only afterwards destroy the sockets: the relay holds
 * dups of the fds until `stop()`, and a reset is only sent when the last fd closes.
 */
import type net from 'node:net';
import { loadNative, type NativeBindings } from './bindings';
import type { HandleWithFd } from './socket-handoff';

/** How a relay ended by itself. */
export const enum SpliceEnd {
  /** Both directions saw FIN and passed it on. */
  Clean = 0,
  /** Reading or writing socket A failed (reset, broken pipe). */
  ResetA = 1,
  ResetB = 2,
}

export interface SpliceRelayOwner {
  onSpliceEnd(end: SpliceEnd): void;
}

type SpliceApi = Required<
  Pick<
    NativeBindings,
    'spliceRelayInit' | 'spliceRelayStart' | 'spliceRelayStop' | 'spliceRelayBytes' | 'spliceRelayCount'
  >
>;

/** Node's private TCP handle, as far as taking a socket away from libuv's reads needs it. */
interface ReadableHandle {
  _handle?: { reading?: boolean; readStop?(): number; readStart?(): number } | null;
}

/** Readable's internal state, as far as suppressing its read-ahead needs it. */
interface ReadAheadState {
  _readableState?: { readingMore: boolean };
}

const running = new Map<number, SpliceRelay>();
let api: SpliceApi | null | undefined;
let nextId = 1;

function spliceApi(): SpliceApi | null {
  if (api !== undefined) return api;
  const native = loadNative();
  if (
    native?.spliceRelayInit === undefined ||
    native.spliceRelayStart === undefined ||
    native.spliceRelayStop === undefined ||
    native.spliceRelayBytes === undefined ||
    native.spliceRelayCount === undefined
  ) {
    api = null;
    return api;
  }
  native.spliceRelayInit(onNativeEnd);
  api = native as SpliceApi;
  return api;
}

function onNativeEnd(id: number, reason: number): void {
  // A relay stopped while its end event was in flight is no longer in the map.
  running.get(id)?.ended(reason as SpliceEnd);
}

/** Whether this thread can start splice relays (addon active, Linux, splice relay built). */
export function spliceRelayAvailable(): boolean {
  return spliceApi() !== null;
}

/** Relays started on this thread and not stopped yet (for leak checks). */
export function spliceRelayCount(): number {
  return spliceApi()?.spliceRelayCount() ?? 0;
}

/**
 * Stops libuv reading `socket` (what `pause()` does for `onread` sockets) so that bytes stay in
 * the kernel for the relay. Call it before the relay starts — for a just-accepted socket, in the
 * same tick it was accepted, before libuv polls it; for one that was read (tls_inspector), inside
 * the 'data' handler of the last chunk read.
 *
 * A stream that has just delivered a chunk schedules a read-ahead (Readable's `maybeReadMore`,
 * on the next tick) that would start libuv reading again even though the stream is paused, and
 * take bytes meant for the relay; marking that read-ahead as already scheduled prevents it. A
 * later `resume()` still reads as usual.
 */
export function stopReading(socket: net.Socket): void {
  socket.pause();
  const state = (socket as unknown as ReadAheadState)._readableState;
  if (state !== undefined) state.readingMore = true;
  const handle = (socket as unknown as ReadableHandle)._handle;
  if (handle?.readStop === undefined) return;
  handle.reading = false;
  handle.readStop();
}

/**
 * Undoes `stopReading` for a socket no relay took after all: libuv reads it again, and the stream
 * delivers what it reads once resumed (its owner's `resume()`, unless it keeps it paused).
 * `resume()` alone would not: the stream still counts its last read as under way.
 */
export function resumeReading(socket: net.Socket): void {
  const state = (socket as unknown as ReadAheadState)._readableState;
  if (state !== undefined) state.readingMore = false;
  const handle = (socket as unknown as ReadableHandle)._handle;
  if (handle?.readStart === undefined || handle.reading === true || socket.destroyed) return;
  handle.reading = true;
  handle.readStart();
}

export class SpliceRelay {
  /**
   * As of the last `sample()` (or the end): [A→B bytes, B→A bytes delivered, times A stopped being
   * read (its bytes waited for B), times it was read again, ms since a byte last moved either way]
   * (splice_relay.c's spliceRelayBytes).
   */
  readonly counters = new Float64Array(5);
  private handle: ReturnType<SpliceApi['spliceRelayStart']> | null;

  private constructor(
    private readonly api: SpliceApi,
    private readonly id: number,
    a: number,
    b: number,
    pipeBytes: number,
    private readonly owner: SpliceRelayOwner,
  ) {
    this.handle = api.spliceRelayStart(id, a, b, pipeBytes);
  }

  /**
   * Starts relaying between two connected sockets that no longer read (see `stopReading`).
   * `pipeBytes` (4 KiB .. 1 MiB) bounds the bytes in flight per direction. Throws when the relay
   * is not available or the kernel refuses (e.g. EMFILE): the caller then uses its JS relay.
   */
  static start(a: net.Socket, b: net.Socket, pipeBytes: number, owner: SpliceRelayOwner): SpliceRelay {
    const native = spliceApi();
    if (native === null) throw new Error('the splice relay is not available on this thread');
    const fdA = (a as unknown as HandleWithFd)._handle?.fd;
    const fdB = (b as unknown as HandleWithFd)._handle?.fd;
    if (typeof fdA !== 'number' || fdA < 0 || typeof fdB !== 'number' || fdB < 0)
      throw new Error('splice relay: both sockets need an open fd');
    const id = nextId++;
    const relay = new SpliceRelay(native, id, fdA, fdB, pipeBytes, owner);
    running.set(id, relay);
    return relay;
  }

  /** Refreshes `counters` from the relay thread's. */
  sample(): void {
    if (this.handle !== null) this.api.spliceRelayBytes(this.handle, this.counters);
  }

  /** Ends the relay (if still running) and closes its fds; idempotent. */
  stop(): void {
    if (this.handle === null) return;
    this.sample();
    this.api.spliceRelayStop(this.handle);
    this.handle = null;
    running.delete(this.id);
  }

  /** @internal The native thread reported the end. */
  ended(end: SpliceEnd): void {
    this.sample();
    this.owner.onSpliceEnd(end);
  }
}
