/**
 * The reading half every inspecting listener filter shares: it reads the start of a connection
 * until `examine` has a verdict, then stops reading (the rest stays in the kernel for whatever
 * serves the connection, possibly splice) and leaves the bytes it did not consume in
 * `facts.peeked`, to be delivered first.
 */
import type * as net from 'node:net';
import { stopReading } from '../../native';
import { ListenerFilterResult, type ConnectionFacts, type ListenerFilter } from './api';

/** `examine`'s verdicts besides a count of consumed bytes. */
export const NEED_MORE = -1;
/** The examiner refused the connection (and counted why): it is closed. */
export const CLOSE = -2;

export interface PeekCallbacks {
  /**
   * Looks at everything read so far (earlier filters' peeked bytes first): NEED_MORE, CLOSE, or the
   * number of leading bytes the filter consumed (0 for a filter that only looks), the rest being kept.
   */
  examine(data: Buffer): number;
  /** The peer closed or failed before a verdict (the connection is then closed). */
  peerClosed(): void;
}

/**
 * Runs one inspection on an accepted socket; `done` is called once, never synchronously. Returns
 * the function that abandons it (listener_filters_timeout): the bytes read so far then go first
 * to whatever serves the connection.
 */
export function peekConnectionStart(
  socket: net.Socket,
  facts: ConnectionFacts,
  callbacks: PeekCallbacks,
  done: (result: ListenerFilterResult) => void,
): () => void {
  const chunks: Buffer[] = facts.peeked === null ? [] : [facts.peeked];
  let buffered = facts.peeked === null ? 0 : facts.peeked.length;
  let finished = false;
  const all = (): Buffer => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered));
  const stop = (): void => {
    finished = true;
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
    socket.removeListener('error', onEnd);
    stopReading(socket);
  };
  /** Stops, keeping what was read from `consumed` on for whoever serves the connection. */
  const keep = (consumed = 0): void => {
    if (finished) return;
    stop();
    facts.peeked = buffered <= consumed ? null : all().subarray(consumed);
  };
  const evaluate = (): void => {
    if (finished) return;
    const verdict = callbacks.examine(all());
    if (verdict === NEED_MORE) return;
    if (verdict === CLOSE) {
      stop();
      socket.destroy();
      done(ListenerFilterResult.Closed);
      return;
    }
    keep(verdict);
    done(ListenerFilterResult.Continue);
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    buffered += chunk.length;
    evaluate();
  };
  // The peer closed (or failed) before a verdict: nothing can be served.
  const onEnd = (): void => {
    if (finished) return;
    stop();
    callbacks.peerClosed();
    socket.destroy();
    done(ListenerFilterResult.Closed);
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.once('error', onEnd);
  // An earlier listener filter stopped reading when it had its verdict.
  socket.resume();
  // An earlier filter may already have read all this one needs: no more bytes need to come.
  if (buffered > 0) process.nextTick(evaluate);
  return keep;
}

/** A listener filter that inspects the start of each connection: it says how, per connection. */
export abstract class PeekingListenerFilter implements ListenerFilter {
  onAccept(
    socket: net.Socket,
    facts: ConnectionFacts,
    done: (result: ListenerFilterResult) => void,
  ): () => void {
    const callbacks = this.callbacks(facts);
    if (callbacks !== null) return peekConnectionStart(socket, facts, callbacks, done);
    process.nextTick(done, ListenerFilterResult.Continue);
    return doNothing;
  }

  /** The examiner of one connection, recording what it learns in `facts`; null: nothing to learn. */
  protected abstract callbacks(facts: ConnectionFacts): PeekCallbacks | null;
}

function doNothing(): void {}
