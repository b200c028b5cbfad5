/**
 * Certificates that change on disk: a listener's TLS context is read again (with the same checks
 * as at load) when one of the files it came from — certificates, keys, CAs, SDS secret files, the
 * `watched_directory` — changes, and new handshakes use the result; connections already
 * established keep theirs. Checked at most every CHECK_INTERVAL_MS, when a connection arrives (a
 * listener nobody connects to has nobody to serve a new certificate to), so nothing runs between
 * connections and nothing needs stopping. A read that fails (a key that no longer matches its
 * certificate while files are being swapped one by one, a missing file) keeps the context in use
 * and is logged; the next change is read again.
 */
import { statSync } from 'node:fs';
import { log } from '../../common/log';

/** New handshakes see a changed certificate within this (plus the read itself). */
export const CHECK_INTERVAL_MS = 500;

export interface Reread<T> {
  value: T | null;
  errors: string[];
  watchedPaths: string[];
}

export class CertificateReloader<T> {
  private nextCheckMs = 0;
  private fingerprint: string;

  constructor(
    private watchedPaths: string[],
    /** What is being watched, for the log ('listener.x filter chain y'). */
    private readonly what: string,
    private readonly reread: () => Reread<T>,
    private readonly apply: (value: T) => void,
  ) {
    this.fingerprint = fingerprintOf(watchedPaths);
  }

  /** Reads the context again if a watched file changed since the last look (`nowMs`: monotonic). */
  check(nowMs: number): void {
    if (nowMs < this.nextCheckMs) return;
    this.nextCheckMs = nowMs + CHECK_INTERVAL_MS;
    const now = fingerprintOf(this.watchedPaths);
    if (now === this.fingerprint) return;
    this.fingerprint = now;
    const read = this.reread();
    if (read.value === null || read.errors.length > 0) {
      log.warn(
        `${this.what}: certificates changed but cannot be used, keeping the current ones: ${read.errors.join('; ')}`,
      );
      return;
    }
    // An SDS secret may now name other files.
    this.watchedPaths = read.watchedPaths;
    this.fingerprint = fingerprintOf(read.watchedPaths);
    this.apply(read.value);
    log.info(`${this.what}: certificates reloaded`);
  }
}

/** Identity and version of each path (a file replaced by a rename gets another inode). */
function fingerprintOf(paths: readonly string[]): string {
  let out = '';
  for (const path of paths) {
    const s = statSync(path, { throwIfNoEntry: false });
    out += s === undefined ? `${path}:-|` : `${path}:${s.ino}:${s.mtimeMs}:${s.size}|`;
  }
  return out;
}
