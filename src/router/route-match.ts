/**
 * One route's `match` block compiled: the path condition plus header and query conditions. Path
 * conditions see the request-target without its query and fragment (Envoy's
 * PathUtil::removeQueryAndFragment); `safe_regex` must match all of it; `case_sensitive: false`
 * folds ASCII case for prefix / path / path_separated_prefix (regexes ignore it, as in Envoy).
 */
import type { RouteMatch } from '../config/bootstrap';
import type { HeaderMap } from '../http/header-map';
import { compileRe2 } from './re2';
import { CompiledHeaderMatcher, type PseudoHeaderSource, CompiledQueryMatcher } from './request-matchers';
import { asciiLower, startsWithIgnoreCase } from './string-matcher';

const enum PathKind {
  Prefix,
  Exact,
  Regex,
  SeparatedPrefix,
  /** connect_matcher: CONNECT requests, whose target is an authority rather than a path. */
  Connect,
}

const PATH_KINDS: Record<RouteMatch['kind'], PathKind> = {
  prefix: PathKind.Prefix,
  path: PathKind.Exact,
  safe_regex: PathKind.Regex,
  path_separated_prefix: PathKind.SeparatedPrefix,
  connect_matcher: PathKind.Connect,
};

export class CompiledRouteMatch {
  private readonly kind: PathKind;
  /** The literal path or prefix (lower-cased when case-insensitive); '' for regex routes. */
  private readonly value: string;
  private readonly caseSensitive: boolean;
  private readonly regex: RegExp | null;
  private readonly headers: CompiledHeaderMatcher[];
  private readonly query: CompiledQueryMatcher[];
  /**
   * What every matching path starts with, for the route index: the literal for prefix/path kinds,
   * the literal head of a regex when it has one; `indexFoldsCase` says it is lower-cased and must be
   * compared to a lower-cased path.
   */
  readonly indexLiteral: string;
  readonly indexFoldsCase: boolean;
  /** Length of the path part a prefix_rewrite replaces; -1 = the whole path (regex and exact routes). */
  readonly rewriteLength: number;

  constructor(config: RouteMatch) {
    this.kind = PATH_KINDS[config.kind];
    const isRegex = this.kind === PathKind.Regex;
    this.caseSensitive = config.caseSensitive || isRegex;
    this.value = isRegex ? '' : this.caseSensitive ? config.value : asciiLower(config.value);
    this.regex = isRegex ? compileRe2(config.value, true) : null;
    this.headers = config.headers.map((h) => new CompiledHeaderMatcher(h));
    this.query = config.queryParameters.map((q) => new CompiledQueryMatcher(q));
    this.indexLiteral = isRegex ? regexLiteralHead(config.value) : this.value;
    this.indexFoldsCase = !this.caseSensitive;
    this.rewriteLength =
      this.kind === PathKind.Prefix || this.kind === PathKind.SeparatedPrefix ? this.value.length : -1;
  }

  /**
   * `path` is the request-target, `pathEnd` where its path part ends (index of the first '?' or '#',
   * or its length), `queryStart` the index after '?' (-1 if none). A CONNECT request (`connect`)
   * has no path: only connect_matcher routes match it, and they match nothing else (Envoy).
   */
  matches(
    path: string,
    pathEnd: number,
    queryStart: number,
    headers: HeaderMap,
    connect: boolean,
    request?: PseudoHeaderSource,
  ): boolean {
    if (connect !== (this.kind === PathKind.Connect)) return false;
    if (!connect && !this.matchesPath(path, pathEnd)) return false;
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) if (!hs[i]!.matches(headers, request)) return false;
    const qs = this.query;
    for (let i = 0; i < qs.length; i++) if (!qs[i]!.matches(path, queryStart)) return false;
    return true;
  }

  private matchesPath(path: string, pathEnd: number): boolean {
    const value = this.value;
    const n = value.length;
    switch (this.kind) {
      case PathKind.Prefix:
        return n <= pathEnd && this.startsWith(path, value);
      case PathKind.Exact:
        return n === pathEnd && this.startsWith(path, value);
      case PathKind.SeparatedPrefix:
        return (
          n <= pathEnd && this.startsWith(path, value) && (n === pathEnd || path.charCodeAt(n) === 47) /* / */
        );
      case PathKind.Regex:
        return this.regex!.test(pathEnd === path.length ? path : path.slice(0, pathEnd));
      case PathKind.Connect:
        return false;
    }
  }

  private startsWith(path: string, value: string): boolean {
    return this.caseSensitive ? path.startsWith(value) : startsWithIgnoreCase(path, value, 0);
  }
}

/** Index of the end of the path part of a request-target: the first '?' or '#', else its length. */
export function pathPartEnd(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

const REGEX_META = new Set('\\^$.|?*+()[]{}');
const QUANTIFIERS = new Set('?*+{');

/**
 * The literal text every match of a (full-match, case-sensitive) regex starts with: its leading
 * plain characters, minus the last one if a quantifier follows it. '' when alternation or a leading
 * inline flag could make the head optional.
 */
export function regexLiteralHead(pattern: string): string {
  if (pattern.includes('|') || pattern.startsWith('(?')) return '';
  let i = pattern.startsWith('^') ? 1 : 0;
  const start = i;
  while (i < pattern.length && !REGEX_META.has(pattern[i]!)) i++;
  const end = i < pattern.length && QUANTIFIERS.has(pattern[i]!) ? i - 1 : i;
  return pattern.slice(start, Math.max(start, end));
}
