/**
 * Route `rate_limits` made runnable: each `RateLimit` turns a request into one descriptor — its
 * actions' entries in order — or into none when an action cannot produce its entry (Envoy's
 * `RateLimitPolicyEntryImpl::populateLocalDescriptors`, `source/common/router/router_ratelimit.cc`).
 *
 * A descriptor is handed around as one string, `descriptorKey(entries)`: every entry as
 * `key NUL value NUL`. Request header values cannot hold NUL, so two descriptors are equal exactly
 * when their entries are, and a filter finds its configured descriptor with one Map lookup.
 */
import type { HeaderMatcher, RateLimitActionConfig, RateLimitConfig } from '../config/bootstrap';
import type { HeaderFormatContext } from './header-format';
import { CompiledHeaderMatcher, requestHeaderValue, type PseudoHeaderSource } from './request-matchers';
import type { MatchedRoute } from './route-table';

/** What the actions read from the stream: its headers and downstream peer IP (a filter's callbacks). */
export type RateLimitRequest = Pick<HeaderFormatContext, 'requestHeaders' | 'remoteAddress'> & {
  /** The request's pseudo-headers (`:path`, `:method`), for request_headers and header_value_match. */
  readonly request?: PseudoHeaderSource | null;
};

export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

/** The string form of a descriptor (see the module comment). */
export function descriptorKey(entries: readonly DescriptorEntry[]): string {
  let out = '';
  for (const e of entries) out += entry(e.key, e.value);
  return out;
}

function entry(key: string, value: string): string {
  return key + '\0' + value + '\0';
}

/** An action's result: an entry (`entry()`), SKIP (none, but the descriptor stands), or null (no descriptor). */
const SKIP = '';
type ActionResult = string | null;

interface Action {
  populate(req: RateLimitRequest, route: MatchedRoute): ActionResult;
}

class GenericKey implements Action {
  private readonly entry: string;
  constructor(key: string, value: string) {
    this.entry = entry(key, value);
  }
  populate(): ActionResult {
    return this.entry;
  }
}

/** The header's first value; absent: SKIP with `skip_if_absent`, else no descriptor. */
class RequestHeaders implements Action {
  constructor(
    private readonly headerName: string,
    private readonly key: string,
    private readonly skipIfAbsent: boolean,
  ) {}
  populate(req: RateLimitRequest): ActionResult {
    const value = requestHeaderValue(req.requestHeaders, this.headerName, req.request);
    if (value === undefined) return this.skipIfAbsent ? SKIP : null;
    return entry(this.key, value);
  }
}

class RemoteAddress implements Action {
  populate(req: RateLimitRequest): ActionResult {
    return req.remoteAddress === '' ? null : entry('remote_address', req.remoteAddress);
  }
}

/**
 * The route's cluster: `cluster`, or `cluster_header`'s value. A weighted_clusters route has none
 * yet (Legate's router picks it, after the filters), nor has a redirect or direct response: no
 * descriptor, as Envoy does for routes without a route entry.
 */
class DestinationCluster implements Action {
  populate(req: RateLimitRequest, route: MatchedRoute): ActionResult {
    if (route.action.kind !== 'route' || route.action.weightedClusters !== null) return null;
    const cluster = route.pickCluster(req.requestHeaders, NO_RANDOM);
    return cluster === null ? null : entry('destination_cluster', cluster);
  }
}

/** pickCluster only draws for weighted clusters, which DestinationCluster excludes. */
function NO_RANDOM(): number {
  return 0;
}

/** The entry when all header matchers match (or, with `expect_match: false`, when not all do). */
class HeaderValueMatch implements Action {
  private readonly entry: string;
  private readonly matchers: CompiledHeaderMatcher[];
  constructor(
    key: string,
    value: string,
    private readonly expectMatch: boolean,
    headers: readonly HeaderMatcher[],
  ) {
    this.entry = entry(key, value);
    this.matchers = headers.map((h) => new CompiledHeaderMatcher(h));
  }
  populate(req: RateLimitRequest): ActionResult {
    let all = true;
    for (const m of this.matchers) {
      if (!m.matches(req.requestHeaders, req.request ?? undefined)) {
        all = false;
        break;
      }
    }
    return all === this.expectMatch ? this.entry : null;
  }
}

function compileAction(a: RateLimitActionConfig): Action {
  switch (a.kind) {
    case 'generic_key':
      return new GenericKey(a.key, a.value);
    case 'request_headers':
      return new RequestHeaders(a.headerName, a.key, a.skipIfAbsent);
    case 'remote_address':
      return new RemoteAddress();
    case 'destination_cluster':
      return new DestinationCluster();
    case 'header_value_match':
      return new HeaderValueMatch(a.key, a.value, a.expectMatch, a.headers);
  }
}

class CompiledRateLimit {
  readonly stage: number;
  readonly disabled: boolean;
  private readonly actions: Action[];

  constructor(config: RateLimitConfig) {
    this.stage = config.stage;
    this.disabled = config.disableKey !== '';
    this.actions = config.actions.map(compileAction);
  }

  /** The descriptor's key, '' if it has no entries, or null if an action produced none. */
  descriptor(req: RateLimitRequest, route: MatchedRoute): string | null {
    let key = '';
    for (const action of this.actions) {
      const e = action.populate(req, route);
      if (e === null) return null;
      key += e;
    }
    return key;
  }
}

/** The `rate_limits` of one virtual host or route. */
export class RateLimitPolicy {
  private readonly entries: CompiledRateLimit[];

  private constructor(configs: readonly RateLimitConfig[]) {
    this.entries = configs.map((c) => new CompiledRateLimit(c));
  }

  /** Null for an absent or empty list (Envoy's "route has no rate limit policy"). */
  static compile(configs: readonly RateLimitConfig[] | undefined): RateLimitPolicy | null {
    return configs === undefined || configs.length === 0 ? null : new RateLimitPolicy(configs);
  }

  /**
   * Appends to `out` the descriptors of the entries of `stage`, in order, for a request on `route`. As Envoy's local_ratelimit
   * does, entries with a `disable_key` are skipped; descriptors without entries, which no configured
   * descriptor can equal, are left out.
   */
  populateLocal(stage: number, route: MatchedRoute, req: RateLimitRequest, out: string[]): void {
    for (const rl of this.entries) {
      if (rl.stage !== stage || rl.disabled) continue;
      const key = rl.descriptor(req, route);
      if (key !== null && key !== '') out.push(key);
    }
  }
}
