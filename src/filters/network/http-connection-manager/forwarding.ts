/**
 * Where a request comes from, as Envoy's connection manager decides it before routing
 * (ConnectionManagerUtility::mutateRequestHeaders, and the "HTTP header sanitizing" and
 * "x-forwarded-for" sections of its HTTP connection manager docs):
 * - the trusted client address, from x-forwarded-for and `xff_num_trusted_hops`;
 * - whether the request is *internal*: its x-forwarded-for holds that one address (or, with
 *   `use_remote_address`, there was none and the address is the peer's), and `internal_address_config`
 *   trusts it. Since Envoy 1.36 no address is trusted unless configured;
 * - whether it arrives at the *edge*: `use_remote_address` and not internal.
 *
 * What follows: x-forwarded-for / x-forwarded-proto, `x-envoy-internal: true` on internal requests
 * only (a client cannot claim it), the x-envoy-* control headers (retry policy, timeouts, …) removed
 * from every request that is not internal so that no outsider steers the router or the proxies
 * behind this one, `x-envoy-external-address` at the edge, x-request-id (replaced at the edge unless
 * `preserve_external_request_id`), `via`, and a malformed Referer removed.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { HttpConnectionManagerConfig } from '../../../config/bootstrap';
import type { RequestHead } from '../../../http/codec';
import type { HeaderMap } from '../../../http/header-map';
import { CompiledCidr, ipBytes } from '../../../common/cidr';
import { randomRequestId } from '../../../common/request-id';
import { appendVia } from './request-headers';

/** Removed from every request that is not internal (Envoy's cleanInternalHeaders). */
const CONTROL_HEADERS: ReadonlySet<string> = new Set([
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
]);

/** Removed from edge requests as well: they describe the caller, which only a mesh peer may state. */
const EDGE_ONLY_HEADERS: ReadonlySet<string> = new Set([
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
]);

const INTERNAL = 'x-envoy-internal';

/** One HTTP connection manager's rules, compiled once. */
export class ForwardingRules {
  private readonly internalRanges: CompiledCidr[];

  constructor(
    private readonly config: HttpConnectionManagerConfig,
    /** What x-forwarded-for gets for a loopback peer (Envoy's local address). */
    private readonly loopbackReplacement: string = hostAddress(),
  ) {
    this.internalRanges = config.internalAddresses.cidrRanges.map((range) => new CompiledCidr(range));
  }

  /**
   * Applies the rules to `head`; returns the trusted client address, or null when it is the
   * connection's peer (`peerAddress`: the TCP peer, or the client a PROXY protocol header named).
   */
  apply(head: RequestHead, peerAddress: string, scheme: 'http' | 'https'): string | null {
    const config = this.config;
    const headers = head.headers;
    const xff = forwardedFor(headers);
    const trustedHops = config.xffNumTrustedHops;
    let client: string | null;
    /** The address whose trust decides internal: null when none may (Envoy's trusted address checks). */
    let candidate: string | null;
    if (config.useRemoteAddress) {
      client = trustedHops > 0 && xff !== undefined ? addressFromRight(xff, trustedHops - 1) : null;
      candidate = xff === undefined ? peerAddress : null;
      if (!config.skipXffAppend) {
        const appended = isLoopback(peerAddress) ? this.loopbackReplacement : peerAddress;
        headers.set('x-forwarded-for', xff === undefined ? appended : `${xff},${appended}`);
      }
      if (trustedHops === 0 || !headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', scheme);
    } else {
      client = xff === undefined ? null : addressFromRight(xff, trustedHops);
      // Only a lone x-forwarded-for address, the client's own, can make the request internal.
      candidate = trustedHops === 0 && client !== null && xff!.indexOf(',') === -1 ? client : null;
      if (!headers.has('x-forwarded-proto')) headers.add('x-forwarded-proto', scheme);
    }
    const internal = candidate !== null && this.isInternal(candidate);
    const edge = !internal && config.useRemoteAddress;
    removeUntrustedHeaders(headers, internal, edge, config.routeConfig.internalOnlyHeaders);
    if (internal) headers.add(INTERNAL, 'true');
    sanitizeReferer(headers);
    if (config.via !== '') appendVia(headers, config.via);
    if (edge) headers.set('x-envoy-external-address', client ?? peerAddress);
    if (
      config.generateRequestId &&
      ((edge && !config.preserveExternalRequestId) || !headers.has('x-request-id'))
    )
      headers.set('x-request-id', randomRequestId());
    return client;
  }

  private isInternal(address: string): boolean {
    if (this.internalRanges.length === 0) return false;
    const bytes = ipBytes(address);
    if (bytes === null) return false;
    for (let i = 0; i < this.internalRanges.length; i++)
      if (this.internalRanges[i]!.contains(bytes)) return true;
    return false;
  }
}

/**
 * x-envoy-internal always goes (only this proxy may set it); on a request that is not internal, the
 * control headers (and on an edge request, the caller's description) and the route configuration's
 * `internal_only_headers`. One pass over the names: most requests carry no x-envoy-* field at all.
 */
function removeUntrustedHeaders(
  headers: HeaderMap,
  internal: boolean,
  edge: boolean,
  internalOnly: readonly string[],
): void {
  const names = headers.names;
  for (let i = 0; i < names.length;) {
    const name = names[i]!;
    if (
      name.startsWith('x-envoy-') &&
      (name === INTERNAL ||
        (!internal && (CONTROL_HEADERS.has(name) || (edge && EDGE_ONLY_HEADERS.has(name)))))
    )
      headers.remove(name); // every field of that name, this one included: `i` is the next one now
    else i++;
  }
  if (!internal) for (let i = 0; i < internalOnly.length; i++) headers.remove(internalOnly[i]!);
}

/**
 * A Referer that is repeated, or not an absolute http(s) URL, is removed (Envoy does since 1.23):
 * an upstream that trusts it for CSRF checks must not see an ambiguous one.
 */
function sanitizeReferer(headers: HeaderMap): void {
  const referer = headers.get('referer');
  if (referer === undefined) return;
  if (headers.count('referer') === 1 && isAbsoluteHttpUrl(referer)) return;
  headers.remove('referer');
}

function isAbsoluteHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

/** Every x-forwarded-for field of the request as one list, or undefined when there is none. */
function forwardedFor(headers: HeaderMap): string | undefined {
  const first = headers.get('x-forwarded-for');
  if (first === undefined) return undefined;
  const all = headers.getAll('x-forwarded-for');
  return all.length === 1 ? first : all.join(',');
}

/**
 * The address `skip` entries left of the last one in an x-forwarded-for list, if that entry is an
 * IP address (Envoy's getLastAddressFromXFF); null when the list is too short or the entry is not
 * an address.
 */
export function addressFromRight(xff: string, skip: number): string | null {
  let end = xff.length;
  for (let i = 0; i < skip; i++) {
    end = xff.lastIndexOf(',', end - 1);
    if (end === -1) return null;
  }
  const candidate = xff.slice(xff.lastIndexOf(',', end - 1) + 1, end).trim();
  return isIP(candidate) === 0 ? null : candidate;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

let cachedHostAddress: string | undefined;

/**
 * This machine's address as Envoy's local info has it (Network::Utility::getLocalAddress, IPv4):
 * the first non-loopback IPv4 address of its interfaces, or 127.0.0.1 when it has none. A loopback
 * peer is appended to x-forwarded-for as this address, which means something to the hosts behind.
 */
export function hostAddress(): string {
  if (cachedHostAddress === undefined) {
    cachedHostAddress = '127.0.0.1';
    search: for (const entries of Object.values(networkInterfaces())) {
      for (const entry of entries ?? []) {
        if (entry.family === 'IPv4' && !entry.internal) {
          cachedHostAddress = entry.address;
          break search;
        }
      }
    }
  }
  return cachedHostAddress;
}
