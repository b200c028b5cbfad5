/** Envoy's `RouteMatch`: the path specifier plus header and query parameter matchers. */
import type { HeaderMatcher, QueryParameterMatcher, RouteMatch } from '../bootstrap';
import type { ObjectReader } from '../config-reader';
import { rejectUnsupported } from '../unsupported';
import { readRegexMatcher } from './regex-field';
import { parseStringMatcher } from './string-matcher';
import { GRPC_CONTENT_TYPE_PATTERN } from '../../http/grpc';

const PATH_SPECIFIERS = [
  'prefix',
  'path',
  'safe_regex',
  'path_separated_prefix',
  'connect_matcher',
  'path_match_policy',
] as const;
const UNSUPPORTED_MATCH_FIELDS = [
  'path_match_policy',
  'runtime_fraction',
  'tls_context',
  'dynamic_metadata',
  'filter_state',
  'cookies',
] as const;

/** The deprecated one-word header matchers, each equal to a `string_match` kind. */
const LEGACY_HEADER_MATCHERS = {
  exact_match: 'exact',
  prefix_match: 'prefix',
  suffix_match: 'suffix',
  contains_match: 'contains',
} as const;
const HEADER_SPECIFIERS = [
  'string_match',
  'present_match',
  'safe_regex_match',
  'range_match',
  ...(Object.keys(LEGACY_HEADER_MATCHERS) as (keyof typeof LEGACY_HEADER_MATCHERS)[]),
] as const;

/**
 * `grpc: {}`: Envoy's isGrpcRequestHeaders, as a header matcher: content-type `application/grpc`,
 * or that followed by `+` (a subtype, e.g. `+proto`) or `;` (parameters).
 */
const GRPC_CONTENT_TYPE: HeaderMatcher = {
  name: 'content-type',
  stringMatch: { kind: 'safe_regex', value: GRPC_CONTENT_TYPE_PATTERN, ignoreCase: false },
  presentMatch: false,
  invertMatch: false,
  treatMissingHeaderAsEmpty: false,
};

export function parseRouteMatch(r: ObjectReader): RouteMatch {
  rejectUnsupported(r, UNSUPPORTED_MATCH_FIELDS);
  const kind = (r.oneOf(PATH_SPECIFIERS, true) ?? 'prefix') as RouteMatch['kind'];
  const headers = r.objectArray('headers').map(parseHeaderMatcher);
  if (r.object('grpc') !== null) headers.push({ ...GRPC_CONTENT_TYPE });
  return {
    kind,
    value: parsePathSpecifier(r, kind),
    caseSensitive: r.bool('case_sensitive', true),
    headers,
    queryParameters: r.objectArray('query_parameters').map(parseQueryParameterMatcher),
  };
}

function parsePathSpecifier(r: ObjectReader, kind: RouteMatch['kind']): string {
  if (kind === 'connect_matcher') {
    // ConnectMatcher has no fields: `{}`.
    r.object(kind)?.done();
    return '';
  }
  if (kind === 'safe_regex') return readRegexMatcher(r, 'safe_regex');
  const value = r.string(kind);
  if (kind === 'path_separated_prefix') {
    if (!value.startsWith('/')) r.error(kind, "must start with '/'");
    else if (value.length > 1 && value.endsWith('/')) r.error(kind, "must not end with '/'");
    else if (/[?#]/.test(value)) r.error(kind, "must not contain '?' or '#'");
  }
  return value;
}

export function parseHeaderMatcher(r: ObjectReader): HeaderMatcher {
  const name = r.requiredString('name').toLowerCase();
  r.unsupported('range_match');
  const specifier = r.oneOf(HEADER_SPECIFIERS, false);
  const matcher: HeaderMatcher = {
    name,
    stringMatch: null,
    presentMatch: specifier === null,
    invertMatch: r.bool('invert_match', false),
    treatMissingHeaderAsEmpty: r.bool('treat_missing_header_as_empty', false),
  };
  if (specifier === 'present_match') matcher.presentMatch = r.bool('present_match', true);
  else if (specifier === 'string_match')
    matcher.stringMatch = parseStringMatcher(r.requiredObject('string_match'));
  else if (specifier === 'safe_regex_match') {
    r.deprecated('safe_regex_match', 'use string_match: { safe_regex: … }');
    matcher.stringMatch = {
      kind: 'safe_regex',
      value: readRegexMatcher(r, 'safe_regex_match'),
      ignoreCase: false,
    };
  } else if (specifier !== null && specifier !== 'range_match') {
    const kind = LEGACY_HEADER_MATCHERS[specifier as keyof typeof LEGACY_HEADER_MATCHERS];
    r.deprecated(specifier, `use string_match: { ${kind}: … }`);
    matcher.stringMatch = { kind, value: r.string(specifier), ignoreCase: false };
  }
  return matcher;
}

function parseQueryParameterMatcher(r: ObjectReader): QueryParameterMatcher {
  const name = r.requiredString('name');
  const specifier = r.oneOf(['string_match', 'present_match'], false);
  if (specifier === 'string_match') {
    return { name, stringMatch: parseStringMatcher(r.requiredObject('string_match')), presentMatch: false };
  }
  return { name, stringMatch: null, presentMatch: r.bool('present_match', true) };
}
