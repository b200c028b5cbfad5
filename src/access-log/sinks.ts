/**
 * Where access-log lines go, per worker thread: one buffered sink per destination (a file path,
 * stdout or stderr), shared by every logger of the thread that writes there.
 *
 * Logging never blocks the request path: `write` appends the line to an in-memory batch. A batch is
 * written asynchronously (one write in flight per sink, so lines keep their order) when it reaches
 * FLUSH_BYTES or when the thread's flush timer fires (FLUSH_INTERVAL_MS, Envoy's default
 * `file_flush_interval_msec`). On drain the worker calls `closeAccessLogSinks()`: every batch is
 * written and files are closed after their last write; those pending writes keep the thread alive
 * until they land, so a graceful shutdown loses no line.
 *
 * The registry is module state, which is per thread: each worker thread loads its own copy.
 */
import * as fs from 'node:fs';
import { log } from '../common/log';
import type { AccessLogSinks } from './api';

const FLUSH_INTERVAL_MS = 1000;
const FLUSH_BYTES = 64 * 1024;

/** An output that can take one asynchronous write at a time. */
interface Target {
  write(data: Buffer, done: () => void): void;
  close(): void;
}

export class BufferedSink {
  private batch: string[] = [];
  private batchBytes = 0;
  private writing = false;
  private closing = false;

  constructor(private readonly target: Target) {}

  write(line: string): void {
    this.batch.push(line);
    this.batchBytes += line.length;
    if (this.batchBytes >= FLUSH_BYTES) this.flush();
  }

  /** Starts writing the current batch, unless a write is in flight (it flushes again when done). */
  flush(): void {
    if (this.writing) return;
    if (this.batch.length === 0) {
      if (this.closing) this.target.close();
      return;
    }
    const data = Buffer.from(this.batch.join(''));
    this.batch = [];
    this.batchBytes = 0;
    this.writing = true;
    this.target.write(data, () => {
      this.writing = false;
      if (this.closing || this.batchBytes >= FLUSH_BYTES) this.flush();
    });
  }

  /** Writes everything buffered, then releases the target. */
  close(): void {
    this.closing = true;
    this.flush();
  }
}

/** Appends to a file; partial writes are completed, errors are reported once and the data dropped. */
class FileTarget implements Target {
  private failed = false;

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {}

  write(data: Buffer, done: () => void): void {
    fs.write(this.fd, data, 0, data.length, null, (err, written) => {
      if (err) {
        if (!this.failed) log.error(`access log ${this.path}: ${err.message}; dropping lines`);
        this.failed = true;
        done();
      } else if (written < data.length) {
        this.write(data.subarray(written), done);
      } else {
        done();
      }
    });
  }

  close(): void {
    fs.close(this.fd, () => {});
  }
}

/**
 * process.stdout / stderr: in a worker thread these are streams to the main thread, which does
 * the blocking write, so the worker never waits on a slow terminal or pipe.
 */
class StdioTarget implements Target {
  constructor(private readonly stream: NodeJS.WriteStream) {}
  write(data: Buffer, done: () => void): void {
    this.stream.write(data, () => done());
  }
  close(): void {}
}

const sinks = new Map<string, BufferedSink>();
let timer: NodeJS.Timeout | null = null;

function register(key: string, make: () => Target): BufferedSink {
  let sink = sinks.get(key);
  if (sink === undefined) {
    sink = new BufferedSink(make());
    sinks.set(key, sink);
    if (timer === null) {
      timer = setInterval(flushAccessLogSinks, FLUSH_INTERVAL_MS);
      timer.unref();
    }
  }
  return sink;
}

/** The sink of a file (opened for append now, at logger creation); /dev/stdout and /dev/stderr map to stdio. */
export function fileSink(path: string): BufferedSink {
  if (path === '/dev/stdout') return stdoutSink();
  if (path === '/dev/stderr') return stderrSink();
  return register(`file:${path}`, () => new FileTarget(fs.openSync(path, 'a'), path));
}

export function stdoutSink(): BufferedSink {
  return register('stdout', () => new StdioTarget(process.stdout));
}

export function stderrSink(): BufferedSink {
  return register('stderr', () => new StdioTarget(process.stderr));
}

/** This thread's sinks, as access logger factories open them. */
export const THREAD_SINKS: AccessLogSinks = { file: fileSink, stdout: stdoutSink, stderr: stderrSink };

export function flushAccessLogSinks(): void {
  for (const sink of sinks.values()) sink.flush();
}

/** On drain: write every buffered line, close files, stop the flush timer. */
export function closeAccessLogSinks(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  for (const sink of sinks.values()) sink.close();
  sinks.clear();
}
