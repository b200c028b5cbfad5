/**
 * Config-time checks of a RouteConfiguration that only the router knows how to make, for the
 * config loader to report with file positions (it maps `at` + `field` to a location). Everything
 * `compileRouteTable` would otherwise throw on is caught here, so workers never see a bad table.
 */
import type {
  HeaderMutations,
  HeaderMatcher,
  QueryParameterMatcher,
  RouteConfiguration,
  StringMatcher,
} from '../config/bootstrap';
import { validateHeaderFormat } from './header-format';
import { headerMutationKeyError } from './header-mutations';
import { validateRe2 } from './re2';
import { validateRegexRewrite } from './rewrite';

export interface RouteConfigProblem {
  /** `at` of the object the problem is in (route, virtual host, route configuration). */
  at: string;
  /** Field path inside that object, e.g. `match.safe_regex.regex`. */
  field: string;
  message: string;
  severity: 'error' | 'warning';
}

export function checkRouteConfiguration(config: RouteConfiguration): RouteConfigProblem[] {
  const problems: RouteConfigProblem[] = [];
  const error = (at: string, field: string, message: string): void => {
    problems.push({ at, field, message, severity: 'error' });
  };
  checkDomains(config, problems);
  checkMutations(config.at, config, error);
  for (const vh of config.virtualHosts) {
    checkMutations(vh.at, vh, error);
    for (const route of vh.routes) {
      const at = route.at;
      const m = route.match;
      if (m.kind === 'safe_regex') checkRegex(at, 'match.safe_regex.regex', m.value, error);
      if (m.kind === 'path_separated_prefix' && !/^[^?#]+[^?#/]$/.test(m.value)) {
        error(at, 'match.path_separated_prefix', "must not contain '?' or '#' nor end with '/'");
      }
      m.headers.forEach((h, i) => checkStringMatcher(at, `match.headers[${i}]`, h, error));
      m.queryParameters.forEach((q, i) => checkStringMatcher(at, `match.query_parameters[${i}]`, q, error));
      checkMutations(at, route, error);
      const action = route.action;
      if (action.kind !== 'route') continue;
      if (action.regexRewrite !== null) {
        const why = validateRegexRewrite(action.regexRewrite.pattern, action.regexRewrite.substitution);
        if (why !== null) error(at, 'route.regex_rewrite', why);
        if (action.prefixRewrite)
          error(at, 'route.prefix_rewrite', 'only one of prefix_rewrite and regex_rewrite may be set');
      }
      if (action.weightedClusters !== null) {
        action.weightedClusters.forEach((w, i) =>
          checkMutations(at, w, error, `route.weighted_clusters.clusters[${i}].`),
        );
        if (action.weightedClusters.reduce((s, w) => s + w.weight, 0) === 0) {
          error(at, 'route.weighted_clusters', 'the sum of weights must be greater than 0');
        }
      }
    }
  }
  return problems;
}

type Report = (at: string, field: string, message: string) => void;

/** Envoy rejects duplicate domains (across virtual hosts) and more than one '*'. */
function checkDomains(config: RouteConfiguration, problems: RouteConfigProblem[]): void {
  const seen = new Map<string, string>();
  for (const vh of config.virtualHosts) {
    vh.domains.forEach((domain, i) => {
      const field = `domains[${i}]`;
      const previous = seen.get(domain);
      if (previous !== undefined) {
        problems.push({
          at: vh.at,
          field,
          message: `duplicate domain '${domain}' (also in virtual host '${previous}')`,
          severity: 'error',
        });
      }
      seen.set(domain, vh.name);
      if (domain.length > 1 && domain.slice(1, -1).includes('*')) {
        problems.push({
          at: vh.at,
          field,
          message: `'*' is only a wildcard at the start or end; '${domain}' matches literally`,
          severity: 'warning',
        });
      }
    });
  }
}

function checkStringMatcher(
  at: string,
  field: string,
  m: HeaderMatcher | QueryParameterMatcher,
  error: Report,
): void {
  const sm: StringMatcher | null = m.stringMatch;
  if (sm !== null && sm.kind === 'safe_regex')
    checkRegex(at, `${field}.string_match.safe_regex.regex`, sm.value, error);
}

function checkRegex(at: string, field: string, pattern: string, error: Report): void {
  const why = validateRe2(pattern);
  if (why !== null) error(at, field, `invalid regex: ${why}`);
}

function checkMutations(at: string, m: HeaderMutations, error: Report, prefix = ''): void {
  const lists: [string, HeaderMutations['requestHeadersToAdd']][] = [
    ['request_headers_to_add', m.requestHeadersToAdd],
    ['response_headers_to_add', m.responseHeadersToAdd],
  ];
  for (const [name, adds] of lists) {
    adds.forEach((a, i) => {
      const keyError = headerMutationKeyError(a.key);
      if (keyError !== null) error(at, `${prefix}${name}[${i}].header.key`, keyError);
      const formatError = validateHeaderFormat(a.value);
      if (formatError !== null) error(at, `${prefix}${name}[${i}].header.value`, formatError);
    });
  }
  const removes: [string, string[]][] = [
    ['request_headers_to_remove', m.requestHeadersToRemove],
    ['response_headers_to_remove', m.responseHeadersToRemove],
  ];
  for (const [name, keys] of removes) {
    keys.forEach((k, i) => {
      const keyError = headerMutationKeyError(k);
      if (keyError !== null) error(at, `${prefix}${name}[${i}]`, keyError);
    });
  }
}
