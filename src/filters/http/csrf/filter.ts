/**
 * The CSRF filter (Envoy's `envoy.filters.http.csrf`): a request that modifies state (POST, PUT,
 * DELETE, PATCH) must come from the origin it is addressed to: the host of its Origin header (or,
 * without one, of its Referer) must be its Host, or match `additional_origins`. Otherwise, where the
 * policy is enforced (`filter_enabled`), it is answered 403 `Invalid origin`; where it is only
 * shadowed, counted. `http.<stat_prefix>.csrf.missing_source_origin`, `request_invalid`,
 * `request_valid`.
 */
import type { RequestHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import { CompiledStringMatcher } from '../../../router/string-matcher';
import type { Counter } from '../../../stats/store';
import { FilterHeadersStatus, PassThroughFilter } from '../api';
import type { CsrfPolicy } from './config';

export interface CsrfStats {
  missingSourceOrigin: Counter;
  requestInvalid: Counter;
  requestValid: Counter;
}

export interface CsrfShared {
  readonly configName: string;
  readonly policy: CsrfPolicy;
  readonly stats: CsrfStats;
  readonly random: () => number;
  readonly matchers: WeakMap<CsrfPolicy, CompiledStringMatcher[]>;
}

const MODIFYING_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export class CsrfFilter extends PassThroughFilter {
  constructor(private readonly shared: CsrfShared) {
    super();
  }

  override decodeHeaders(head: RequestHead, _endStream: boolean): FilterHeadersStatus {
    if (!MODIFYING_METHODS.has(head.method)) return FilterHeadersStatus.Continue;
    const shared = this.shared;
    const policy =
      (this.callbacks.route()?.perFilterConfig(shared.configName) as CsrfPolicy | undefined) ?? shared.policy;
    const enforced = this.picked(policy.enabledFraction);
    if (!enforced && !this.picked(policy.shadowFraction)) return FilterHeadersStatus.Continue;
    const source = sourceOrigin(head.headers);
    let valid = true;
    if (source === '') {
      shared.stats.missingSourceOrigin.inc();
      valid = false;
    } else if (
      source !== (this.callbacks.authority || head.headers.get('host')) &&
      !this.additional(policy, source)
    ) {
      shared.stats.requestInvalid.inc();
      valid = false;
    } else shared.stats.requestValid.inc();
    if (valid || !enforced) return FilterHeadersStatus.Continue;
    this.callbacks.sendLocalReply(403, 'Invalid origin', 'csrf_origin_mismatch');
    return FilterHeadersStatus.StopIteration;
  }

  private picked(fraction: number): boolean {
    return fraction >= 1 || (fraction > 0 && this.shared.random() < fraction);
  }

  private additional(policy: CsrfPolicy, origin: string): boolean {
    let matchers = this.shared.matchers.get(policy);
    if (matchers === undefined) {
      matchers = policy.additionalOrigins.map((m) => new CompiledStringMatcher(m));
      this.shared.matchers.set(policy, matchers);
    }
    return matchers.some((m) => m.match(origin));
  }
}

/** `host[:port]` of the Origin header, else of the Referer; '' when neither names one. */
function sourceOrigin(headers: HeaderMap): string {
  const origin = headers.get('origin');
  if (origin !== undefined && origin !== '' && origin !== 'null') return hostAndPort(origin);
  const referer = headers.get('referer');
  return referer === undefined ? '' : hostAndPort(referer);
}

/** The authority of an absolute URL (`https://a.example:8443/x` → `a.example:8443`). */
function hostAndPort(url: string): string {
  const start = url.indexOf('://');
  if (start === -1) return '';
  const rest = url.slice(start + 3);
  const end = rest.search(/[/?#]/);
  return end === -1 ? rest : rest.slice(0, end);
}
