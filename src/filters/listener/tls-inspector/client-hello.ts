/**
 * Reads what tls_inspector needs from the start of a TLS connection: whether it is TLS at all, and
 * the ClientHello's server_name (SNI) and application_layer_protocol_negotiation (ALPN) extensions
 * (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1). The ClientHello may span several records.
 */

export const enum HelloStatus {
  /** The bytes so far are a (partial) ClientHello: read more. */
  NeedMore,
  /** Not a TLS ClientHello (or not a well-formed one): serve the connection as plaintext. */
  NotTls,
  /** A complete ClientHello. */
  Found,
  /** Longer than `maxBytes`. */
  TooLarge,
}

export interface ClientHello {
  status: HelloStatus;
  serverName: string;
  alpn: string[];
}

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const SNI_HOST_NAME = 0;
const MAX_RECORD = 16384 + 2048;

const result = (status: HelloStatus, serverName = '', alpn: string[] = []): ClientHello => ({
  status,
  serverName,
  alpn,
});

/** Parses the ClientHello at the start of `data` (everything read from the connection so far). */
export function parseClientHello(data: Buffer, maxBytes: number): ClientHello {
  // Collect the handshake bytes of the leading handshake records.
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  for (;;) {
    if (data.length - offset < 5) {
      if (offset === 0 && !plausibleRecordStart(data)) return result(HelloStatus.NotTls);
      return result(data.length > maxBytes ? HelloStatus.TooLarge : HelloStatus.NeedMore);
    }
    if (data[offset] !== RECORD_HANDSHAKE || data[offset + 1] !== 3) return result(HelloStatus.NotTls);
    const length = data.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD) return result(HelloStatus.NotTls);
    if (data.length - offset - 5 < length)
      return result(offset + 5 + length > maxBytes ? HelloStatus.TooLarge : HelloStatus.NeedMore);
    fragments.push(data.subarray(offset + 5, offset + 5 + length));
    handshakeBytes += length;
    offset += 5 + length;
    if (handshakeBytes >= 4) {
      const hs = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (hs[0] !== HANDSHAKE_CLIENT_HELLO) return result(HelloStatus.NotTls);
      const bodyLength = hs.readUIntBE(1, 3);
      if (4 + bodyLength > maxBytes) return result(HelloStatus.TooLarge);
      if (hs.length >= 4 + bodyLength) return parseBody(hs.subarray(4, 4 + bodyLength));
    }
  }
}

/** Whether fewer than 5 bytes could still start a TLS handshake record. */
function plausibleRecordStart(data: Buffer): boolean {
  return (data.length < 1 || data[0] === RECORD_HANDSHAKE) && (data.length < 2 || data[1] === 3);
}

function parseBody(body: Buffer): ClientHello {
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > body.length) return result(HelloStatus.NotTls);
  p += 1 + body[p]!; // legacy_session_id
  if (p + 2 > body.length) return result(HelloStatus.NotTls);
  p += 2 + body.readUInt16BE(p); // cipher_suites
  if (p + 1 > body.length) return result(HelloStatus.NotTls);
  p += 1 + body[p]!; // legacy_compression_methods
  if (p === body.length) return result(HelloStatus.Found); // no extensions
  if (p + 2 > body.length) return result(HelloStatus.NotTls);
  const end = p + 2 + body.readUInt16BE(p);
  if (end > body.length) return result(HelloStatus.NotTls);
  p += 2;
  let serverName = '';
  let alpn: string[] = [];
  while (p + 4 <= end) {
    const type = body.readUInt16BE(p);
    const length = body.readUInt16BE(p + 2);
    const ext = body.subarray(p + 4, p + 4 + length);
    if (p + 4 + length > end) return result(HelloStatus.NotTls);
    if (type === EXT_SERVER_NAME) serverName = readServerName(ext);
    else if (type === EXT_ALPN) alpn = readAlpn(ext);
    p += 4 + length;
  }
  return result(HelloStatus.Found, serverName, alpn);
}

function readServerName(ext: Buffer): string {
  let p = 2; // server_name_list length
  while (p + 3 <= ext.length) {
    const type = ext[p]!;
    const length = ext.readUInt16BE(p + 1);
    if (p + 3 + length > ext.length) return '';
    if (type === SNI_HOST_NAME) return ext.toString('latin1', p + 3, p + 3 + length).toLowerCase();
    p += 3 + length;
  }
  return '';
}

function readAlpn(ext: Buffer): string[] {
  const out: string[] = [];
  let p = 2; // protocol_name_list length
  while (p + 1 <= ext.length) {
    const length = ext[p]!;
    if (p + 1 + length > ext.length) break;
    out.push(ext.toString('latin1', p + 1, p + 1 + length));
    p += 1 + length;
  }
  return out;
}
