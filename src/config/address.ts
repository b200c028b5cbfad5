/** Envoy's `core.v3.Address`, of which Legate supports `socket_address` over TCP. */
import { isIP } from 'node:net';
import type { SocketAddress } from './bootstrap';
import type { ObjectReader } from './config-reader';
import { rejectUnsupported } from './unsupported';

export interface AddressRules {
  /** Listeners and admin bind, so they need an IP literal; STRICT_DNS endpoints may name hosts. */
  readonly requireIp: boolean;
  /** Port 0 (any free port) makes sense to bind, not to connect to. */
  readonly allowPortZero: boolean;
  /** Appended to the "must be an IP address" error. */
  readonly ipHint?: string;
}

/** Reads the `Address` mapping at `r.field` (required). */
export function parseAddress(r: ObjectReader, field: string, rules: AddressRules): SocketAddress {
  const address = r.requiredObject(field);
  rejectUnsupported(address, ['pipe', 'envoy_internal_address']);
  address.oneOf(['socket_address', 'pipe', 'envoy_internal_address'], true);
  const socket = address.object('socket_address');
  return socket ? parseSocketAddress(socket, rules) : { address: '', port: 0 };
}

function parseSocketAddress(r: ObjectReader, rules: AddressRules): SocketAddress {
  rejectUnsupported(r, ['named_port', 'resolver_name', 'ipv4_compat', 'network_namespace_filepath']);
  if (r.enumValue('protocol', ['TCP', 'UDP'] as const, 'TCP') === 'UDP')
    r.error('protocol', 'UDP is not supported by Legate yet');
  const address = r.requiredString('address');
  if (rules.requireIp && address !== '' && isIP(address) === 0) {
    r.error('address', `'${address}' is not an IP address`, rules.ipHint);
  }
  if (!r.has('port_value')) r.error('port_value', "missing required field 'port_value'");
  const port = r.uint('port_value', 0, { min: rules.allowPortZero ? 0 : 1, max: 65535 });
  return { address, port };
}
