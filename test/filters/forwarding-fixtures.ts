/** The connection manager's forwarding rules on hand-made configs and request heads (unit tests). */
import type { CidrRange, HttpConnectionManagerConfig } from '../../src/config/bootstrap';
import type { RequestHead } from '../../src/http/codec';
import { HeaderMap } from '../../src/http/header-map';
import { ForwardingRules } from '../../src/filters/network/http-connection-manager/forwarding';

/** What x-forwarded-for gets for a loopback peer in these tests (Envoy: the host's address). */
export const HOST_ADDRESS = '198.51.100.7';

/** Rules for an HCM with `fields` over these defaults (no request id, no trusted ranges). */
export function forwardingRules(
  fields: Partial<HttpConnectionManagerConfig>,
  internalRanges: CidrRange[] = [],
  internalOnlyHeaders: string[] = [],
): ForwardingRules {
  const config = {
    useRemoteAddress: false,
    xffNumTrustedHops: 0,
    skipXffAppend: false,
    internalAddresses: { unixSockets: false, cidrRanges: internalRanges },
    generateRequestId: false,
    preserveExternalRequestId: false,
    via: '',
    routeConfig: { internalOnlyHeaders },
    ...fields,
  } as unknown as HttpConnectionManagerConfig;
  return new ForwardingRules(config, HOST_ADDRESS);
}

/** A GET with `fields`, in order. */
export function requestHead(fields: [string, string][]): RequestHead {
  const headers = new HeaderMap();
  for (const [name, value] of fields) headers.add(name, value);
  return {
    method: 'GET',
    path: '/',
    protocol: 'HTTP/1.1',
    headers,
    keepAlive: true,
    contentLength: -1,
    chunked: false,
    upgrade: false,
  };
}
