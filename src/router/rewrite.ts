/**
 * Request rewrites and redirects, as Envoy's RouteEntryImplBase and Http::Utility::newUri do them.
 *
 * Path rewrites touch only the path part; the query is carried over.
 * - `prefix_rewrite` replaces the part the route matched: the prefix for prefix and
 *   path_separated_prefix routes, the whole path for path and safe_regex routes.
 * - `regex_rewrite` replaces every match of its pattern in the path (RE2::GlobalReplace); in the
 *   substitution `\1`…`\9` are groups, `\0` the whole match and `\\` a backslash.
 */
import type { RedirectActionConfig } from '../config/bootstrap';
import { captureGroupCount, compileRe2, validateRe2 } from './re2';
import { pathPartEnd } from './route-match';

export class PathRewrite {
  private constructor(
    /** Characters of the path part replaced by `replacement`; -1 = the whole path part. */
    private readonly prefixLength: number,
    private readonly replacement: string,
    private readonly regex: RegExp | null,
  ) {}

  /** `matchedLength`: the route's rewriteLength (see CompiledRouteMatch). */
  static prefix(matchedLength: number, replacement: string): PathRewrite {
    return new PathRewrite(matchedLength, replacement, null);
  }

  /** Throws when RE2 would reject the pattern or the substitution (see `validateRegexRewrite`). */
  static regex(pattern: string, substitution: string): PathRewrite {
    const problem = validateRegexRewrite(pattern, substitution);
    if (problem !== null) throw new Error(`invalid regex_rewrite: ${problem}`);
    return new PathRewrite(-1, re2SubstitutionToJs(substitution), compileRe2(pattern, false, true));
  }

  /** The rewritten request-target. */
  apply(target: string): string {
    const end = pathPartEnd(target);
    const rest = end === target.length ? '' : target.slice(end);
    if (this.regex !== null) return target.slice(0, end).replace(this.regex, this.replacement) + rest;
    const cut = this.prefixLength < 0 ? end : Math.min(this.prefixLength, end);
    return this.replacement + target.slice(cut);
  }
}

/**
 * RE2 rewrite string → String.prototype.replace replacement: `\1` → `$01` (two digits, so a digit
 * after the reference stays literal, as in RE2), `\0` → `$&`, `\\` → `\`, `$` → `$$`.
 */
export function re2SubstitutionToJs(substitution: string): string {
  let out = '';
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    if (c === '$') out += '$$';
    else if (c !== '\\') out += c;
    else {
      const next = substitution[++i]!;
      out += next === '\\' ? '\\' : next === '0' ? '$&' : '$0' + next;
    }
  }
  return out;
}

/** Whether a regex_rewrite is usable: null if so, else why not (RE2::CheckRewriteString rules). */
export function validateRegexRewrite(pattern: string, substitution: string): string | null {
  const patternError = validateRe2(pattern);
  if (patternError !== null) return patternError;
  const groups = captureGroupCount(compileRe2(pattern, false));
  for (let i = 0; i < substitution.length; i++) {
    if (substitution[i] !== '\\') continue;
    const next = substitution[++i];
    if (next === '\\') continue;
    if (next === undefined || next < '0' || next > '9')
      return `invalid rewrite escape '\\${next ?? ''}' (use \\0-\\9 or \\\\)`;
    if (Number(next) > groups)
      return `rewrite refers to group \\${next} but the pattern has ${groups} group(s)`;
  }
  return null;
}

/**
 * The `Location` of a redirect (Envoy's Http::Utility::newUri). `scheme` is the request's scheme
 * (x-forwarded-proto as the HCM set it), `host` its authority, `target` its request-target after any
 * redirect prefix_rewrite.
 *
 * - scheme: `scheme_redirect`, else https if `https_redirect`, else the request's.
 * - host: `host_redirect` verbatim, else the request's, whose port is dropped when `port_redirect` is
 *   set, or when the scheme changes and the port was the old scheme's default (:80 for http,
 *   :443 for https). `port_redirect` is appended as `:port`.
 * - path: `path_redirect` (keeping the request's query unless path_redirect has its own), else the
 *   request's; `strip_query` removes the query unless it came from path_redirect.
 */
export function redirectLocation(
  config: RedirectActionConfig,
  scheme: string,
  host: string,
  target: string,
): string {
  const finalScheme = config.schemeRedirect || (config.httpsRedirect ? 'https' : scheme);
  const finalPort = config.portRedirect > 0 ? ':' + config.portRedirect : '';
  const finalHost = config.hostRedirect || hostForRedirect(host, scheme, finalScheme, finalPort);
  const pathRedirect = config.pathRedirect ?? '';
  const pathRedirectHasQuery = pathRedirect.includes('?');
  let path: string;
  if (pathRedirect === '') path = target;
  else if (pathRedirectHasQuery) path = pathRedirect;
  else {
    const q = target.indexOf('?');
    path = q === -1 ? pathRedirect : pathRedirect + target.slice(q);
  }
  if (!path.startsWith('/')) path = '/' + path;
  if (config.stripQuery && !pathRedirectHasQuery) {
    const q = path.indexOf('?');
    if (q !== -1) path = path.slice(0, q);
  }
  return `${finalScheme}://${finalHost}${finalPort}${path}`;
}

/** Envoy's processRequestHost: the request's host with its port dropped where a redirect makes it wrong. */
function hostForRedirect(host: string, requestScheme: string, newScheme: string, newPort: string): string {
  if (host === '') return host;
  let portStart: number;
  if (host.startsWith('[')) {
    portStart = host.lastIndexOf(']:');
    if (portStart !== -1) portStart += 1;
  } else {
    portStart = host.lastIndexOf(':');
  }
  if (portStart === -1) return host;
  const port = host.slice(portStart);
  const scheme = requestScheme.toLowerCase();
  let removePort = newPort !== '';
  if (newScheme !== requestScheme) {
    removePort ||= (scheme === 'https' && port === ':443') || (scheme === 'http' && port === ':80');
  }
  return removePort ? host.slice(0, portStart) : host;
}

/**
 * Envoy's weighted cluster pick: `random % totalWeight` falls in exactly one entry's interval
 * [sum of earlier weights, + own weight). `random` is a non-negative integer (Envoy uses the
 * stream's 64-bit random value; Legate passes a uniform 32-bit one).
 */
export function pickWeightedIndex(weights: readonly number[], totalWeight: number, random: number): number {
  const selected = random % totalWeight;
  let end = 0;
  for (let i = 0; i < weights.length; i++) {
    end += weights[i]!;
    if (selected < end) return i;
  }
  return weights.length - 1;
}
