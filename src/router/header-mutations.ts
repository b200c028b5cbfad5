/**
 * `request_headers_to_add/remove` and `response_headers_to_add/remove` from every level that applies
 * to a route, compiled into one applier per route (and per weighted cluster), as Envoy's
 * HeaderParser::evaluateHeaders runs them:
 *
 * - Levels run most specific first: weighted cluster → route → virtual host → route configuration
 *   (Envoy's default, `most_specific_header_mutations_wins: false`, so the least specific level has
 *   the last word on overwrites).
 * - Within a level: removals first; then every value is formatted against the headers as they were
 *   before this level's additions; then overwrites are applied, then appends.
 * - `append_action`: APPEND_IF_EXISTS_OR_ADD adds another field; ADD_IF_ABSENT adds only if the
 *   header is absent; OVERWRITE_IF_EXISTS_OR_ADD replaces all fields (or adds); OVERWRITE_IF_EXISTS
 *   replaces only when present.
 * - A value that formats to '' is skipped (Envoy's default `keep_empty_value: false`).
 *
 * Pseudo-headers and `host` may not be added or removed; config parsing rejects them
 * (config/route/header-mutations.ts).
 */
import type { AppendAction, HeaderMutations, HeaderValueOption } from '../config/bootstrap';
import type { HeaderMap } from '../http/header-map';
import { buildAt, buildEach } from '../config/build-error';
import { HeaderFormat, type HeaderFormatContext } from './header-format';

const enum Action {
  Append,
  AddIfAbsent,
  OverwriteOrAdd,
  OverwriteIfExists,
}

const ACTIONS: Record<AppendAction, Action> = {
  APPEND_IF_EXISTS_OR_ADD: Action.Append,
  ADD_IF_ABSENT: Action.AddIfAbsent,
  OVERWRITE_IF_EXISTS_OR_ADD: Action.OverwriteOrAdd,
  OVERWRITE_IF_EXISTS: Action.OverwriteIfExists,
};

const SKIP = 0;
const ADD = 1;
const OVERWRITE = 2;

/** One level's removals and additions for one direction (request or response). */
class MutationLevel {
  private readonly removes: string[];
  private readonly keys: string[];
  private readonly formats: HeaderFormat[];
  private readonly actions: Action[];
  /** Scratch space for the two-phase evaluation; safe to reuse because evaluation is synchronous. */
  private readonly pending: Uint8Array;
  private readonly values: string[];

  /** `field`: the config path of `adds` (`…request_headers_to_add`), for build errors. */
  constructor(removes: string[], adds: HeaderValueOption[], field: string) {
    this.removes = removes;
    this.keys = adds.map((a) => a.key);
    this.formats = buildEach(adds, (a, i) =>
      buildAt(`${field}[${i}].header.value`, () => new HeaderFormat(a.value)),
    );
    this.actions = adds.map((a) => ACTIONS[a.appendAction]);
    this.pending = new Uint8Array(adds.length);
    this.values = adds.map(() => '');
  }

  get isEmpty(): boolean {
    return this.removes.length === 0 && this.keys.length === 0;
  }

  apply(
    headers: HeaderMap,
    ctx: HeaderFormatContext,
    requestHeaders: HeaderMap,
    responseHeaders: HeaderMap | null,
  ): void {
    // has() first: HeaderMap.remove compacts its arrays even when nothing matches.
    for (let i = 0; i < this.removes.length; i++)
      if (headers.has(this.removes[i]!)) headers.remove(this.removes[i]!);
    const n = this.keys.length;
    if (n === 0) return;
    const pending = this.pending;
    const values = this.values;
    for (let i = 0; i < n; i++) {
      const value = this.formats[i]!.evaluate(ctx, requestHeaders, responseHeaders);
      values[i] = value;
      pending[i] = value === '' ? SKIP : this.decide(this.actions[i]!, headers.has(this.keys[i]!));
    }
    for (let i = 0; i < n; i++) if (pending[i] === OVERWRITE) headers.set(this.keys[i]!, values[i]!);
    for (let i = 0; i < n; i++) if (pending[i] === ADD) headers.add(this.keys[i]!, values[i]!);
    values.fill('');
  }

  private decide(action: Action, present: boolean): number {
    switch (action) {
      case Action.Append:
        return ADD;
      case Action.AddIfAbsent:
        return present ? SKIP : ADD;
      case Action.OverwriteOrAdd:
        return OVERWRITE;
      case Action.OverwriteIfExists:
        return present ? OVERWRITE : SKIP;
    }
  }
}

/** The compiled mutations of one route (or weighted cluster), all levels, both directions. */
export class HeaderMutationApplier {
  private readonly request: MutationLevel[];
  private readonly response: MutationLevel[];

  /** `levels` most specific first (weighted cluster, route, virtual host, route configuration). */
  constructor(levels: readonly HeaderMutations[]) {
    const field = (l: HeaderMutations, name: string): string => (l.at ? `${l.at}.${name}` : name);
    this.request = buildEach(
      levels,
      (l) =>
        new MutationLevel(
          l.requestHeadersToRemove,
          l.requestHeadersToAdd,
          field(l, 'request_headers_to_add'),
        ),
    ).filter((l) => !l.isEmpty);
    this.response = buildEach(
      levels,
      (l) =>
        new MutationLevel(
          l.responseHeadersToRemove,
          l.responseHeadersToAdd,
          field(l, 'response_headers_to_add'),
        ),
    ).filter((l) => !l.isEmpty);
  }

  get hasRequestMutations(): boolean {
    return this.request.length > 0;
  }

  get hasResponseMutations(): boolean {
    return this.response.length > 0;
  }

  /** Mutates the request headers about to go upstream. */
  applyRequest(headers: HeaderMap, ctx: HeaderFormatContext): void {
    for (let i = 0; i < this.request.length; i++) this.request[i]!.apply(headers, ctx, headers, null);
  }

  /** Mutates response headers about to go downstream (upstream responses and local replies). */
  applyResponse(headers: HeaderMap, ctx: HeaderFormatContext): void {
    for (let i = 0; i < this.response.length; i++)
      this.response[i]!.apply(headers, ctx, ctx.requestHeaders, headers);
  }
}
