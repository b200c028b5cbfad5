/**
 * Reads a document apart from the bootstrap with the same readers, checks and messages: a file
 * the config points to (an SDS secret file), or part of the config read again at run time (a TLS
 * context whose certificate files changed). Issues come back as lines to report, not thrown.
 */
import { stringify } from 'yaml';
import { IssueList } from './config-error';
import type { ObjectReader } from './config-reader';
import { ReaderSession } from './object-reader';
import { YamlSources } from './yaml-source';

export interface DetachedRead<T> {
  /** Null when the text is not a YAML/JSON mapping. */
  value: T | null;
  /** Errors, `location: message` (path) each; none when the read is usable. */
  errors: string[];
}

/** Parses `document` (YAML/JSON text, or plain data) named `origin` with `parse`. */
export function readDetached<T>(
  origin: string,
  document: string | object,
  parse: (r: ObjectReader) => T,
): DetachedRead<T> {
  const issues = new IssueList();
  const sources = new YamlSources(issues);
  const root = sources.parse(origin, typeof document === 'string' ? document : stringify(document));
  let value: T | null = null;
  if (root !== null) {
    const session = new ReaderSession(sources, issues);
    value = parse(session.root(root));
    session.finishAll();
  }
  const errors = issues
    .sorted()
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.location}: ${i.message}${i.path ? ` (${i.path})` : ''}`);
  return { value, errors };
}
