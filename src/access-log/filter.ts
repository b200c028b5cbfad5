/**
 * Envoy's access-log filters (`config.accesslog.v3.AccessLogFilter`): whether a finished stream is
 * logged. Parsed on the primary into plain data, compiled once per worker.
 *
 * Supported: `status_code_filter` and `duration_filter` (a comparison EQ / GE / LE / NE with the
 * runtime value's `default_value`), `not_health_check_filter` (no request here is a health check, as
 * Legate's active health checks come from the primary and are not logged), `header_filter` (a route
 * HeaderMatcher on the request headers), `response_flag_filter` (any flag, or one of `flags`),
 * `runtime_filter` (its `percent_sampled`, drawn per stream), `and_filter`, `or_filter`.
 * Anything else is a config error naming it.
 */
import type { HeaderMatcher } from '../config/bootstrap';
import type { ObjectReader } from '../config/config-reader';
import { parseHeaderMatcher } from '../config/route/route-match';
import { CompiledHeaderMatcher } from '../router/request-matchers';
import type { AccessLogStream } from './api';

type ComparisonOp = 'EQ' | 'GE' | 'LE' | 'NE';

export type LogFilterConfig =
  | { kind: 'status_code' | 'duration'; op: ComparisonOp; value: number }
  | { kind: 'not_health_check' }
  | { kind: 'header'; header: HeaderMatcher }
  | { kind: 'response_flag'; flags: string[] }
  | { kind: 'runtime'; fraction: number }
  | { kind: 'and' | 'or'; filters: LogFilterConfig[] };

/** Envoy's response flag short names (`response_flag_filter.flags` takes only these). */
const RESPONSE_FLAGS = [
  'LH',
  'UH',
  'UT',
  'LR',
  'UR',
  'UF',
  'UC',
  'UO',
  'NR',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'DC',
  'URX',
  'SI',
  'IH',
  'DPE',
  'UMSDR',
  'RFCF',
  'NFCF',
  'DT',
  'UPE',
  'NC',
  'OM',
  'DF',
  'DO',
  'DR',
] as const;

const FILTER_KINDS = [
  'status_code_filter',
  'duration_filter',
  'not_health_check_filter',
  'traceable_filter',
  'runtime_filter',
  'and_filter',
  'or_filter',
  'header_filter',
  'response_flag_filter',
  'grpc_status_filter',
  'extension_filter',
  'metadata_filter',
  'log_type_filter',
] as const;

/** One AccessLogFilter (`r` is the filter message). */
export function parseLogFilter(r: ObjectReader): LogFilterConfig {
  const which = r.oneOf(FILTER_KINDS, true);
  switch (which) {
    case 'status_code_filter':
    case 'duration_filter':
      return {
        kind: which === 'status_code_filter' ? 'status_code' : 'duration',
        ...parseComparison(r.requiredObject(which).requiredObject('comparison')),
      };
    case 'not_health_check_filter':
      return { kind: 'not_health_check' };
    case 'header_filter':
      return { kind: 'header', header: parseHeaderMatcher(r.requiredObject(which).requiredObject('header')) };
    case 'response_flag_filter': {
      const f = r.requiredObject(which);
      const flags = f.stringArray('flags');
      for (const flag of flags)
        if (!(RESPONSE_FLAGS as readonly string[]).includes(flag))
          f.error('flags', `unknown response flag '${flag}' (expected one of ${RESPONSE_FLAGS.join(', ')})`);
      return { kind: 'response_flag', flags };
    }
    case 'runtime_filter': {
      const f = r.requiredObject(which);
      f.requiredString('runtime_key');
      f.unsupported('use_independent_randomness');
      return { kind: 'runtime', fraction: f.fractionalPercent('percent_sampled', 0) };
    }
    case 'and_filter':
    case 'or_filter': {
      const filters = r.requiredObject(which).objectArray('filters').map(parseLogFilter);
      if (filters.length < 2) r.error(which, 'needs at least two filters');
      return { kind: which === 'and_filter' ? 'and' : 'or', filters };
    }
    default:
      r.unsupported(which ?? '');
      return { kind: 'and', filters: [] };
  }
}

function parseComparison(c: ObjectReader): { op: ComparisonOp; value: number } {
  const op = c.enumValue('op', ['EQ', 'GE', 'LE', 'NE'] as const, 'EQ');
  const value = c.requiredObject('value');
  value.requiredString('runtime_key');
  return { op, value: value.uint('default_value', 0) };
}

export interface LogFilter {
  matches(stream: AccessLogStream): boolean;
}

export function compileLogFilter(c: LogFilterConfig, random: () => number = Math.random): LogFilter {
  switch (c.kind) {
    case 'status_code':
      return { matches: (s) => compare(c.op, s.responseCode, c.value) };
    case 'duration':
      return { matches: (s) => compare(c.op, s.durationMs, c.value) };
    case 'not_health_check':
      return { matches: () => true };
    case 'header': {
      const matcher = new CompiledHeaderMatcher(c.header);
      return { matches: (s) => s.request !== null && matcher.matches(s.request.headers, s.request) };
    }
    case 'response_flag': {
      const wanted = c.flags;
      return {
        matches: (s) =>
          s.responseFlags !== '-' &&
          (wanted.length === 0 || s.responseFlags.split(',').some((flag) => wanted.includes(flag))),
      };
    }
    case 'runtime':
      return { matches: () => random() < c.fraction };
    case 'and':
    case 'or': {
      const filters = c.filters.map((f) => compileLogFilter(f, random));
      return c.kind === 'and'
        ? { matches: (s) => filters.every((f) => f.matches(s)) }
        : { matches: (s) => filters.some((f) => f.matches(s)) };
    }
  }
}

function compare(op: ComparisonOp, actual: number, value: number): boolean {
  switch (op) {
    case 'EQ':
      return actual === value;
    case 'GE':
      return actual >= value;
    case 'LE':
      return actual <= value;
    case 'NE':
      return actual !== value;
  }
}
