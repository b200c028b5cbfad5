/**
 * The HCM's path transformations, as Envoy does them before routing:
 *
 * `normalize_path` (PathTransformer::rfcNormalize → the googleurl path canonicaliser Envoy forks):
 * on the part before '?', backslashes become '/', dot segments (`.`, `..`, and their `%2e` forms)
 * are resolved without climbing above the root, percent-escapes of unreserved characters
 * (ALPHA / DIGIT / '-' / '.' / '_' / '~') are decoded, characters that must not appear raw
 * (controls, space, `"` `#` `<` `>` `\`` `{` `|` `}` `^`, non-ASCII) are percent-encoded, other escapes
 * are kept with their original hex case, and a missing leading '/' is added. A NUL byte, raw or as
 * `%00`, makes the path invalid (null → the HCM answers 400). The query is kept as is.
 *
 * `merge_slashes` (PathTransformer::mergeSlashes): runs of '/' before '?' collapse to one, keeping a
 * leading and a trailing slash — so, exactly like Envoy, `//` stays `//` and `///` becomes `//`.
 *
 * `path_with_escaped_slashes_action` (PathUtil::unescapeSlashes): `%2F` and `%5C` (either case)
 * before '?' become '/' and '\'.
 */

/** Table values; 0 means the character is copied as is. */
const ESCAPE = 1;
const UNESCAPE = 2;

/** googleurl's kPathCharLookup for ASCII (0x80 and up are always escaped). */
const PATH_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (let c = 0; c < 0x20; c++) table[c] = ESCAPE;
  for (const ch of ' "#%<>?\\^`{|}') table[ch.charCodeAt(0)] = ESCAPE;
  table[0x7f] = ESCAPE;
  for (const ch of '-._~') table[ch.charCodeAt(0)] = UNESCAPE;
  for (let c = 48; c <= 57; c++) table[c] = UNESCAPE;
  for (let c = 65; c <= 90; c++) table[c] = UNESCAPE;
  for (let c = 97; c <= 122; c++) table[c] = UNESCAPE;
  return table;
})();

const HEX = '0123456789ABCDEF';
const SLASH = 47;
const BACKSLASH = 92;
const PERCENT = 37;
const DOT = 46;

/** RFC 3986 normalisation of a request-target as Envoy's `normalize_path`; null if Envoy rejects it. */
export function normalizePath(target: string): string | null {
  const q = target.indexOf('?');
  const end = q === -1 ? target.length : q;
  if (isCanonical(target, end)) return target;
  const path = q === -1 ? target : target.slice(0, q);
  const canonical = canonicalizePath(path);
  if (canonical === null) return null;
  return q === -1 ? canonical : canonical + target.slice(q);
}

/** The target with escaped slashes before '?' unescaped; null when it has none. */
export function unescapeSlashes(target: string): string | null {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (!ESCAPED_SLASH.test(path)) return null;
  const unescaped = path.replace(ESCAPED_SLASHES, (escape) =>
    escape[2] === 'F' || escape[2] === 'f' ? '/' : '\\',
  );
  return q === -1 ? unescaped : unescaped + target.slice(q);
}
const ESCAPED_SLASH = /%(2f|5c)/i;
const ESCAPED_SLASHES = /%(2f|5c)/gi;

/** Envoy's `merge_slashes`. */
export function mergeSlashes(target: string): string {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (!path.includes('//')) return target;
  const leading = path.startsWith('/') ? '/' : '';
  const trailing = path.endsWith('/') ? '/' : '';
  const merged = path
    .split('/')
    .filter((s) => s !== '')
    .join('/');
  return leading + merged + trailing + (q === -1 ? '' : target.slice(q));
}

/** What the HCM applies, in Envoy's order (normalise, then merge slashes); null → 400. */
export function normalizeRequestPath(target: string, normalize: boolean, merge: boolean): string | null {
  const normalized = normalize ? normalizePath(target) : target;
  if (normalized === null) return null;
  return merge ? mergeSlashes(normalized) : normalized;
}

/**
 * The fast path for the usual request: starts with '/', and has no escape, backslash, character to
 * escape, or dot starting a segment, so canonicalisation would return it unchanged.
 */
function isCanonical(target: string, end: number): boolean {
  if (target.charCodeAt(0) !== SLASH) return false;
  for (let i = 1; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c >= 128 || PATH_CHARS[c] === ESCAPE) return false;
    if (c === DOT && target.charCodeAt(i - 1) === SLASH) return false;
  }
  return true;
}

/** Length of a dot at `i` in the input: 1 for '.', 3 for '%2e' / '%2E', 0 otherwise. */
function dotLength(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === DOT) return 1;
  if (c === PERCENT && s.charCodeAt(i + 1) === 50 /* 2 */ && (s.charCodeAt(i + 2) | 0x20) === 101 /* e */)
    return 3;
  return 0;
}

function isSlash(c: number): boolean {
  return c === SLASH || c === BACKSLASH;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * googleurl's DoPartialPath over the path part. Output segments are kept in a string builder;
 * `..` truncates it back to the previous '/'.
 */
function canonicalizePath(path: string): string | null {
  let out = path.length > 0 && isSlash(path.charCodeAt(0)) ? '' : '/';
  const end = path.length;
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    const dot = dotLength(path, i);
    if (dot > 0) {
      if (!out.endsWith('/')) {
        out += '.';
        i += dot - 1;
        continue;
      }
      const after = i + dot;
      if (after === end || isSlash(path.charCodeAt(after))) {
        // "." segment: drop it (and its slash).
        i = after === end ? end : after;
        continue;
      }
      const second = dotLength(path, after);
      const afterSecond = after + second;
      if (second > 0 && (afterSecond === end || isSlash(path.charCodeAt(afterSecond)))) {
        // ".." segment: back up to the previous slash, never above the root.
        out = backUpToPreviousSlash(out);
        i = afterSecond === end ? end : afterSecond;
        continue;
      }
      out += '.';
      i += dot - 1;
      continue;
    }
    if (c === BACKSLASH) {
      out += '/';
    } else if (c === PERCENT) {
      const hi = i + 2 < end ? hexValue(path.charCodeAt(i + 1)) : -1;
      const lo = hi === -1 ? -1 : hexValue(path.charCodeAt(i + 2));
      if (lo === -1) {
        out += '%';
        continue;
      }
      const value = hi * 16 + lo;
      if (value === 0) return null;
      if (value < 128 && PATH_CHARS[value] === UNESCAPE) out += String.fromCharCode(value);
      else out += path.slice(i, i + 3);
      i += 2;
    } else if (c === 0) {
      return null;
    } else if (c >= 128) {
      out += encodeNonAscii(path, i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) i++;
    } else if (PATH_CHARS[c] === ESCAPE) {
      out += '%' + HEX[c >> 4]! + HEX[c & 15]!;
    } else {
      out += path[i];
    }
  }
  return out;
}

/**
 * Percent-encodes a non-ASCII character. Request-targets decoded as latin1 carry one byte per char
 * (< 0x100: escaped as that byte); anything wider is escaped as UTF-8.
 */
function encodeNonAscii(s: string, i: number): string {
  const c = s.charCodeAt(i);
  if (c < 0x100) return '%' + HEX[c >> 4]! + HEX[c & 15]!;
  const cp = s.codePointAt(i)!;
  let out = '';
  for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += '%' + HEX[b >> 4]! + HEX[b & 15]!;
  return out;
}

/** `out` ends with '/'; drop the last segment (keeping the root '/'). */
function backUpToPreviousSlash(out: string): string {
  if (out.length <= 1) return out;
  const prev = out.lastIndexOf('/', out.length - 2);
  return out.slice(0, prev + 1);
}
