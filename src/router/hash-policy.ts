/**
 * A route's compiled `hash_policy`: computes the request hash that RING_HASH and MAGLEV clusters
 * place requests by (Envoy's Router::HashPolicyImpl). Entries are evaluated in order; each one that
 * finds its input (header present, cookie present, query parameter present, source IP known) hashes
 * it with xxHash32 and folds it into the running hash; a `terminal` entry that produced a hash ends
 * the list. No input at all → no hash (the LB then picks at random, as Envoy does).
 *
 * Per request: no allocation on the header/cookie/query paths except the substring hashed, and the
 * LbContext handed to the cluster is one object per compiled policy, overwritten for each request
 * (the pick is synchronous and keeps no reference to it).
 */
import type { HashPolicyConfig } from '../config/bootstrap';
import type { RequestHead } from '../http/codec';
import type { HeaderMap } from '../http/header-map';
import type { LbContext } from '../upstream/lb/api';
import { combineHash, xxHash32 } from '../upstream/lb/hash';

export class HashPolicy {
  private readonly entries: readonly HashPolicyConfig[];
  private readonly context: { hashKey: number | null } = { hashKey: null };

  constructor(entries: readonly HashPolicyConfig[]) {
    this.entries = entries;
  }

  /** A compiled policy, or null for a route without hash_policy (use NO_LB_CONTEXT). */
  static compile(entries: readonly HashPolicyConfig[] | undefined): HashPolicy | null {
    return entries === undefined || entries.length === 0 ? null : new HashPolicy(entries);
  }

  /** The LB context for this request; valid until the next call on this policy. */
  lbContext(head: RequestHead, remoteAddress: string): LbContext {
    this.context.hashKey = this.hash(head, remoteAddress);
    return this.context;
  }

  /** The request's hash as an unsigned 32-bit number, or null when no entry found its input. */
  hash(head: RequestHead, remoteAddress: string): number | null {
    let hash: number | null = null;
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const h = entryHash(entry, head, remoteAddress);
      if (h === null) continue;
      hash = hash === null ? h : combineHash(hash, h);
      if (entry.terminal) break;
    }
    return hash;
  }
}

function entryHash(entry: HashPolicyConfig, head: RequestHead, remoteAddress: string): number | null {
  switch (entry.kind) {
    case 'header':
      return headerHash(head.headers, entry.name);
    case 'cookie': {
      const value = cookieValue(head.headers, entry.name);
      return value === null ? null : xxHash32(value);
    }
    case 'source_ip':
      return remoteAddress === '' ? null : xxHash32(remoteAddress);
    case 'query_parameter': {
      const value = queryParameter(head.path, entry.name);
      return value === null ? null : xxHash32(value);
    }
  }
}

/**
 * Hash of a header's values. Several fields of the same name are sorted first (as Envoy does), so
 * the hash does not depend on their order.
 */
function headerHash(headers: HeaderMap, name: string): number | null {
  const names = headers.names;
  const first = names.indexOf(name);
  if (first === -1) return null;
  if (names.indexOf(name, first + 1) === -1) return xxHash32(headers.values[first]!);
  return xxHash32(headers.getAll(name).sort().join('\u0000'));
}

/**
 * The value of cookie `name` in the request's Cookie header(s) (`a=1; b="2"`), without surrounding
 * double quotes; null if absent.
 */
export function cookieValue(headers: HeaderMap, name: string): string | null {
  const names = headers.names;
  for (let i = names.indexOf('cookie'); i !== -1; i = names.indexOf('cookie', i + 1)) {
    const value = pairValue(headers.values[i]!, 0, headers.values[i]!.length, name, ';', true);
    if (value !== null) return value;
  }
  return null;
}

/** The raw (not percent-decoded) value of the first query parameter `name`, as Envoy hashes it. */
export function queryParameter(path: string, name: string): string | null {
  const q = path.indexOf('?');
  if (q === -1) return null;
  const hashMark = path.indexOf('#', q);
  return pairValue(path, q + 1, hashMark === -1 ? path.length : hashMark, name, '&', false);
}

/**
 * Scans `text[start, end)` as `key=value` pairs separated by `separator` and returns the value of
 * the first pair whose key is `name` (a key without '=' has value ''). Cookie pairs have optional
 * spaces before the key and optional double quotes around the value.
 */
function pairValue(
  text: string,
  start: number,
  end: number,
  name: string,
  separator: string,
  cookie: boolean,
): string | null {
  let pos = start;
  while (pos < end) {
    let pairEnd = text.indexOf(separator, pos);
    if (pairEnd === -1 || pairEnd > end) pairEnd = end;
    if (cookie) while (pos < pairEnd && text.charCodeAt(pos) === 32) pos++;
    if (
      text.startsWith(name, pos) &&
      (pos + name.length === pairEnd || text.charCodeAt(pos + name.length) === 61) /* = */
    ) {
      let valueStart = Math.min(pos + name.length + 1, pairEnd);
      let valueEnd = pairEnd;
      if (cookie) {
        while (valueEnd > valueStart && text.charCodeAt(valueEnd - 1) === 32) valueEnd--;
        if (
          valueEnd - valueStart >= 2 &&
          text.charCodeAt(valueStart) === 34 &&
          text.charCodeAt(valueEnd - 1) === 34
        ) {
          valueStart++;
          valueEnd--;
        }
      }
      return text.slice(valueStart, valueEnd);
    }
    pos = pairEnd + 1;
  }
  return null;
}
