/**
 * Parses the PROXY protocol header a load balancer puts at the start of a connection (HAProxy's
 * proxy-protocol.txt): version 1, a text line `PROXY TCP4|TCP6|UNKNOWN …\r\n` of at most 107 bytes,
 * and version 2, a 16-byte binary preamble (signature, version/command, family/transport, length)
 * followed by the addresses and TLVs (skipped). A LOCAL command (v2) or UNKNOWN protocol (v1)
 * carries no client: the connection keeps its own addresses.
 */
import * as net from 'node:net';
import type { RestoredAddresses } from '../../../transport/api';

export const enum ProxyHeaderStatus {
  /** The bytes so far could still be (the start of) a header: read more. */
  NeedMore,
  /** The connection does not start with either version's signature. */
  NotFound,
  /** A signature, then something the protocol does not allow. */
  Malformed,
  Found,
}

export type ProxyProtocolVersion = 1 | 2;

export interface ProxyHeader {
  status: ProxyHeaderStatus;
  /** The version whose whole signature was seen (else 0). */
  version: ProxyProtocolVersion | 0;
  /** Bytes the header takes at the start of the connection (Found only). */
  length: number;
  /** The client's addresses; null for LOCAL / UNKNOWN (and anything but Found). */
  addresses: RestoredAddresses | null;
}

const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V1_MAX_LENGTH = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_PREAMBLE = 16;
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_AF_INET = 0x1;
const V2_AF_INET6 = 0x2;
const V2_TRANSPORT_STREAM = 0x1;
const V2_TRANSPORT_DGRAM = 0x2;
/** A decimal port as v1 writes it: no sign, no leading zero. */
const V1_PORT = /^(0|[1-9][0-9]{0,4})$/;

const header = (
  status: ProxyHeaderStatus,
  version: ProxyProtocolVersion | 0 = 0,
  length = 0,
  addresses: RestoredAddresses | null = null,
): ProxyHeader => ({ status, version, length, addresses });

/** Parses the header at the start of `data` (everything read from the connection so far). */
export function parseProxyHeader(data: Buffer): ProxyHeader {
  if (startsLike(data, V2_SIGNATURE)) {
    return data.length < V2_SIGNATURE.length ? header(ProxyHeaderStatus.NeedMore) : parseV2(data);
  }
  if (startsLike(data, V1_SIGNATURE)) {
    return data.length < V1_SIGNATURE.length ? header(ProxyHeaderStatus.NeedMore) : parseV1(data);
  }
  return header(ProxyHeaderStatus.NotFound);
}

/** Whether `data` and `signature` agree on their common length. */
function startsLike(data: Buffer, signature: Buffer): boolean {
  const n = Math.min(data.length, signature.length);
  return data.compare(signature, 0, n, 0, n) === 0;
}

function parseV1(data: Buffer): ProxyHeader {
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end === -1 || end + 2 > V1_MAX_LENGTH) {
    const complete = end !== -1 || data.length >= V1_MAX_LENGTH;
    return header(complete ? ProxyHeaderStatus.Malformed : ProxyHeaderStatus.NeedMore, 1);
  }
  const length = end + 2;
  const fields = data.toString('latin1', V1_SIGNATURE.length, end).split(' ');
  if (fields[0] === 'UNKNOWN') return header(ProxyHeaderStatus.Found, 1, length);
  const family = fields[0] === 'TCP4' ? 4 : fields[0] === 'TCP6' ? 6 : 0;
  const [, source, destination, sourcePort, destinationPort] = fields;
  if (
    family === 0 ||
    fields.length !== 5 ||
    net.isIP(source!) !== family ||
    net.isIP(destination!) !== family ||
    !validPort(sourcePort!) ||
    !validPort(destinationPort!)
  )
    return header(ProxyHeaderStatus.Malformed, 1);
  return header(ProxyHeaderStatus.Found, 1, length, {
    remoteAddress: source!.toLowerCase(),
    remotePort: Number(sourcePort),
    localAddress: destination!.toLowerCase(),
    localPort: Number(destinationPort),
  });
}

function validPort(text: string): boolean {
  return V1_PORT.test(text) && Number(text) <= 65535;
}

function parseV2(data: Buffer): ProxyHeader {
  if (data.length < V2_PREAMBLE) return header(ProxyHeaderStatus.NeedMore, 2);
  const versionCommand = data[12]!;
  const command = versionCommand & 0x0f;
  if (versionCommand >> 4 !== 2 || (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY))
    return header(ProxyHeaderStatus.Malformed, 2);
  const length = V2_PREAMBLE + data.readUInt16BE(14);
  if (data.length < length) return header(ProxyHeaderStatus.NeedMore, 2);
  // LOCAL: the proxy's own connection (a health check): the addresses, if any, are ignored.
  if (command === V2_COMMAND_LOCAL) return header(ProxyHeaderStatus.Found, 2, length);
  const family = data[13]! >> 4;
  const transport = data[13]! & 0x0f;
  // As Envoy: PROXY needs an IPv4 or IPv6 family (AF_UNIX and UNSPEC are refused).
  const addressBytes = family === V2_AF_INET ? 4 : family === V2_AF_INET6 ? 16 : 0;
  if (
    addressBytes === 0 ||
    (transport !== V2_TRANSPORT_STREAM && transport !== V2_TRANSPORT_DGRAM) ||
    length - V2_PREAMBLE < 2 * addressBytes + 4
  )
    return header(ProxyHeaderStatus.Malformed, 2);
  const at = V2_PREAMBLE;
  const ports = at + 2 * addressBytes;
  const format = addressBytes === 4 ? formatIpv4 : formatIpv6;
  return header(ProxyHeaderStatus.Found, 2, length, {
    remoteAddress: format(data, at),
    remotePort: data.readUInt16BE(ports),
    localAddress: format(data, at + addressBytes),
    localPort: data.readUInt16BE(ports + 2),
  });
}

function formatIpv4(data: Buffer, at: number): string {
  return `${data[at]}.${data[at + 1]}.${data[at + 2]}.${data[at + 3]}`;
}

/** RFC 5952 text: lowercase hex groups, the longest run of two or more zero groups as `::`. */
export function formatIpv6(data: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(data.readUInt16BE(at + 2 * i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
