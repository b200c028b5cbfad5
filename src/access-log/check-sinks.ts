/**
 * The sinks of the primary's config check (worker/data-plane.ts `checkDataPlane`): a file sink
 * checks that a worker will be able to open the file for appending, without creating or opening it
 * (validating a config must not leave empty log files behind, nor need the rights the server
 * runs with to write them: Envoy's validate mode creates them, a known annoyance), and writes
 * nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AccessLogSinks, LogSink } from './api';

const DISCARD: LogSink = { write: () => {} };

/** Throws, as opening the file would, when `file` cannot be opened for appending. */
function checkAppendable(file: string): void {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotOpen(file, err);
  }
  if (stat?.isDirectory()) throw new Error(`cannot open access log '${file}': it is a directory`);
  try {
    // An existing file must be writable; a missing one needs a writable directory to be created in.
    fs.accessSync(stat === null ? path.dirname(path.resolve(file)) : file, fs.constants.W_OK);
  } catch (err) {
    throw cannotOpen(file, err);
  }
}

function cannotOpen(file: string, err: unknown): Error {
  return new Error(`cannot open access log '${file}' for appending: ${(err as Error).message}`);
}

export const CHECK_SINKS: AccessLogSinks = {
  file(file) {
    checkAppendable(file);
    return DISCARD;
  },
  stdout: () => DISCARD,
  stderr: () => DISCARD,
};
