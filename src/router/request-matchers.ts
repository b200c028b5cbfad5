/**
 * Route conditions on request headers and query parameters, with Envoy's semantics
 * (`source/common/http/header_utility.cc`, `source/common/router/config_utility.cc`):
 *
 * - A header that occurs several times is matched as its values joined with ',' (getAllOfHeaderAsString).
 * - A missing header fails every value matcher, inverted or not, unless
 *   `treat_missing_header_as_empty` (then '' is matched and `invert_match` applies).
 * - `present_match` compares presence with the expected value, then applies `invert_match`.
 * - Query parameters are read raw (not percent-decoded) from the request-target; a parameter without
 *   '=' has the value ''; the first occurrence of a name wins; a missing parameter never matches.
 */
import type { HeaderMatcher, QueryParameterMatcher } from '../config/bootstrap';
import type { HeaderMap } from '../http/header-map';
import { CompiledStringMatcher } from './string-matcher';

/** What a request's pseudo-headers are read from (a RequestHead is one). */
export interface PseudoHeaderSource {
  readonly method: string;
  readonly path: string;
}

export class CompiledHeaderMatcher {
  private readonly name: string;
  /** `:method`, `:path`, `:authority` or `:scheme` (HTTP/2's names, which Envoy matches on every protocol); else null. */
  private readonly pseudo: string | null;
  private readonly matcher: CompiledStringMatcher | null;
  private readonly present: boolean;
  private readonly invert: boolean;
  private readonly missingAsEmpty: boolean;

  constructor(config: HeaderMatcher) {
    this.name = config.name;
    this.pseudo = config.name.startsWith(':') ? config.name : null;
    this.matcher = config.stringMatch === null ? null : new CompiledStringMatcher(config.stringMatch);
    this.present = config.stringMatch === null ? config.presentMatch : true;
    this.invert = config.invertMatch;
    this.missingAsEmpty = config.treatMissingHeaderAsEmpty;
  }

  /** `request` gives the pseudo-headers; without it they are absent. */
  matches(headers: HeaderMap, request?: PseudoHeaderSource): boolean {
    const value =
      this.pseudo === null
        ? joinedHeaderValue(headers, this.name)
        : pseudoValue(this.pseudo, headers, request);
    if (this.matcher === null) return ((value !== undefined) === this.present) !== this.invert;
    if (value === undefined) return this.missingAsEmpty ? this.matcher.match('') !== this.invert : false;
    return this.matcher.match(value) !== this.invert;
  }
}

/** A request header's (first) value, pseudo-headers included (see pseudoValue). */
export function requestHeaderValue(
  headers: HeaderMap,
  name: string,
  request: PseudoHeaderSource | null | undefined,
): string | undefined {
  return name.startsWith(':') ? pseudoValue(name, headers, request ?? undefined) : headers.get(name);
}

/** A pseudo-header's value, as Envoy's HTTP/1 codec derives them (`:authority` is Host). */
function pseudoValue(
  name: string,
  headers: HeaderMap,
  request: PseudoHeaderSource | undefined,
): string | undefined {
  switch (name) {
    case ':method':
      return request?.method;
    case ':path':
      return request?.path;
    case ':authority':
      return headers.get('host');
    case ':scheme': {
      const proto = headers.get('x-forwarded-proto');
      return proto === undefined ? undefined : (proto.split(',')[0]?.trim() ?? proto);
    }
    default:
      return undefined;
  }
}

/** Every value of `name` joined with ',' (no copy for the usual single value); undefined if absent. */
export function joinedHeaderValue(headers: HeaderMap, name: string): string | undefined {
  const names = headers.names;
  let joined: string | undefined;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== name) continue;
    joined = joined === undefined ? headers.values[i]! : joined + ',' + headers.values[i]!;
  }
  return joined;
}

export class CompiledQueryMatcher {
  private readonly name: string;
  private readonly matcher: CompiledStringMatcher | null;

  constructor(config: QueryParameterMatcher) {
    this.name = config.name;
    this.matcher = config.stringMatch === null ? null : new CompiledStringMatcher(config.stringMatch);
  }

  /** `path` is the whole request-target; `queryStart` the index after its '?' (-1 if none). */
  matches(path: string, queryStart: number): boolean {
    if (queryStart < 0) return false;
    const value = firstQueryValue(path, queryStart, this.name);
    if (value === undefined) return false;
    return this.matcher === null || this.matcher.match(value);
  }
}

/** The raw value of the first `name` parameter in `path` from `start` on (Envoy parses up to the end). */
export function firstQueryValue(path: string, start: number, name: string): string | undefined {
  const end = path.length;
  while (start < end) {
    let amp = path.indexOf('&', start);
    if (amp === -1) amp = end;
    const eq = path.indexOf('=', start);
    const nameEnd = eq !== -1 && eq < amp ? eq : amp;
    if (nameEnd - start === name.length && path.startsWith(name, start)) {
      return nameEnd === amp ? '' : path.slice(eq + 1, amp);
    }
    start = amp + 1;
  }
  return undefined;
}
