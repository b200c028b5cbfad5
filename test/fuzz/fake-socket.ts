/**
 * A stand-in for `net.Socket` that lets a fuzzer drive a codec in-process, with full control of
 * how the peer's bytes are cut into reads. It implements what Legate's HTTP/1 codecs use of a
 * socket: reads (`feed` → 'data', respecting pause as the kernel would), writes (recorded),
 * cork, half-close and destroy.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';

export class FakeSocket extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40000;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 10000;
  /** Everything the codec wrote, in order. */
  readonly written: Buffer[] = [];
  /** Reads waiting while the codec has reading paused. */
  private queued: Buffer[] = [];
  private paused = false;
  private delivering = false;
  /** The codec sent FIN (`end()`). */
  ended = false;
  destroyed = false;
  readonly writableLength = 0;
  readonly writable = true;

  asSocket(): net.Socket {
    return this as unknown as net.Socket;
  }

  /** The peer sends `piece`: one 'data' event now, or when the codec resumes reading. */
  feed(piece: Buffer): void {
    if (this.destroyed) return;
    this.queued.push(piece);
    this.deliver();
  }

  /** The peer half-closes. */
  peerEnd(): void {
    if (!this.destroyed) this.emit('end');
  }

  /** True when nothing is waiting to be read (the codec consumed every piece). */
  get drained(): boolean {
    return this.queued.length === 0;
  }

  get output(): Buffer {
    return Buffer.concat(this.written);
  }

  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    while (!this.paused && !this.destroyed && this.queued.length > 0) this.emit('data', this.queued.shift()!);
    this.delivering = false;
  }

  // ---- the part of net.Socket the codecs use

  setNoDelay(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(chunk: string | Buffer, encoding?: BufferEncoding | (() => void), cb?: () => void): boolean {
    if (this.destroyed || this.ended) return false;
    this.written.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8')
        : Buffer.from(chunk),
    );
    const done = typeof encoding === 'function' ? encoding : cb;
    if (done) process.nextTick(done);
    return true;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    // A real socket delivers what the kernel holds on a later read, not inside resume().
    setImmediate(() => this.deliver());
    return this;
  }
  isPaused(): boolean {
    return this.paused;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    process.nextTick(() => this.emit('close', false));
    return this;
  }
}

/** Resolves after `rounds` turns of the event loop (timers and I/O callbacks of each turn run). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
