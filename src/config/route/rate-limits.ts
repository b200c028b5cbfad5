/**
 * Envoy's `config.route.v3.RateLimit` list (`rate_limits` of a virtual host or a route action):
 * each entry's actions build one descriptor for the rate limit filters of its `stage`
 * (`source/common/router/router_ratelimit.cc`). Legate's consumer is the local_ratelimit filter's
 * `descriptors`; the actions that need what Legate lacks (service cluster, metadata, extensions) are
 * rejected by name.
 */
import type { HttpFilterFactory } from '../../filters/http/api';
import type { ParseContext } from '../../registry/registry';
import type { ExtensionConfig, RateLimitActionConfig, RateLimitConfig } from '../bootstrap';
import { readBoolValue } from '../bool-value';
import type { ObjectReader } from '../config-reader';
import { rejectUnsupported } from '../unsupported';
import { parseHeaderMatcher } from './route-match';

/** Envoy's RateLimitPolicyImpl::MAX_STAGE_NUMBER. */
export const MAX_RATE_LIMIT_STAGE = 10;

const ACTIONS = [
  'generic_key',
  'request_headers',
  'remote_address',
  'destination_cluster',
  'header_value_match',
] as const;

/** Envoy's other actions, with what to use instead. */
const UNSUPPORTED_ACTIONS: Record<string, string> = {
  source_cluster: 'Legate has no --service-cluster / node.cluster to put in it',
  masked_remote_address: 'use remote_address',
  query_parameter_value_match: 'use header_value_match',
  query_parameters: 'use request_headers',
  metadata: 'Legate has no route or dynamic metadata',
  dynamic_metadata: 'Legate has no dynamic metadata',
  extension: 'Legate has no descriptor extensions',
};
const ALL_ACTIONS = [...ACTIONS, ...Object.keys(UNSUPPORTED_ACTIONS)];

/** One parsed `rate_limits` entry and where it is written. */
export interface RateLimitUse {
  readonly reader: ObjectReader;
  readonly stage: number;
}

/** `rate_limits` of `r` ([] when absent); each entry is also added to `uses`. */
export function parseRateLimits(r: ObjectReader, uses?: RateLimitUse[]): RateLimitConfig[] {
  return r.objectArray('rate_limits').map((reader) => {
    const config = parseRateLimit(reader);
    uses?.push({ reader, stage: config.stage });
    return config;
  });
}

/**
 * Stricter than Envoy, which ignores them: `rate_limits` of a stage that no HTTP filter config of
 * the connection manager reads (`HttpFilterFactory.rateLimitStage`: local_ratelimit with
 * `descriptors` and that `stage`) would limit nothing, so they are an error.
 */
export function checkRateLimitStages(
  uses: readonly RateLimitUse[],
  filterConfigs: readonly ExtensionConfig[],
  ctx: ParseContext,
): void {
  if (uses.length === 0) return;
  const read = new Set<number>();
  for (const e of filterConfigs) {
    const found = ctx.registry.byNameOrAlias('http_filter', e.name);
    const stage = (found?.factory as HttpFilterFactory | undefined)?.rateLimitStage?.(e.config) ?? null;
    if (stage !== null) read.add(stage);
  }
  for (const { reader, stage } of uses) {
    if (read.has(stage)) continue;
    const readers =
      read.size === 0 ? 'none does' : `stages read: ${[...read].sort((a, b) => a - b).join(', ')}`;
    reader.error(
      'stage',
      `no local_ratelimit filter with descriptors reads rate_limits of stage ${stage} (${readers})`,
    );
  }
}

function parseRateLimit(r: ObjectReader): RateLimitConfig {
  rejectUnsupported(r, ['limit', 'apply_on_stream_done', 'hits_addend']);
  const actions = r.objectArray('actions').map(parseAction);
  if (actions.length === 0) r.error('actions', 'a rate limit needs at least one action');
  return {
    stage: r.wrappedUint('stage', 0, { max: MAX_RATE_LIMIT_STAGE }),
    disableKey: r.string('disable_key'),
    actions,
  };
}

function parseAction(r: ObjectReader): RateLimitActionConfig {
  const kind = r.oneOf(ALL_ACTIONS, true);
  if (kind === null || !(ACTIONS as readonly string[]).includes(kind)) {
    if (kind !== null) r.unsupported(kind, UNSUPPORTED_ACTIONS[kind]);
    // The load fails on the recorded error; this only fills the slot.
    return { kind: 'remote_address' };
  }
  return parseSupportedAction(kind as (typeof ACTIONS)[number], r.requiredObject(kind));
}

function parseSupportedAction(kind: (typeof ACTIONS)[number], a: ObjectReader): RateLimitActionConfig {
  switch (kind) {
    case 'generic_key':
      return {
        kind,
        key: a.string('descriptor_key') || 'generic_key',
        value: a.requiredString('descriptor_value'),
      };
    case 'request_headers':
      return {
        kind,
        headerName: a.requiredString('header_name').toLowerCase(),
        key: a.requiredString('descriptor_key'),
        skipIfAbsent: a.bool('skip_if_absent', false),
      };
    case 'header_value_match': {
      const headers = a.objectArray('headers').map(parseHeaderMatcher);
      if (headers.length === 0) a.error('headers', 'header_value_match needs at least one header matcher');
      return {
        kind,
        key: a.string('descriptor_key') || 'header_match',
        value: a.requiredString('descriptor_value'),
        expectMatch: readBoolValue(a, 'expect_match', true),
        headers,
      };
    }
    case 'remote_address':
    case 'destination_cluster':
      return { kind };
  }
}
