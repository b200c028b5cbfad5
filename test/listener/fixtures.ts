/**
 * Listener filter test helpers: PROXY protocol headers as a load balancer writes them, and a
 * reader of what the server sends back.
 */
import type * as net from 'node:net';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block and TLVs. */
export function v2Header(
  command: number,
  familyTransport: number,
  addresses: Buffer,
  tlvs = Buffer.alloc(0),
): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(addresses.length + tlvs.length);
  return Buffer.concat([SIG, Buffer.from([0x20 | command, familyTransport]), len, addresses, tlvs]);
}

export function inet4(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  src.split('.').forEach((o, i) => (b[i] = Number(o)));
  dst.split('.').forEach((o, i) => (b[4 + i] = Number(o)));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

export function inet6(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  hex6(src).copy(b, 0);
  hex6(dst).copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

/** The 16 bytes of an IPv6 address written with at most one `::`. */
function hex6(address: string): Buffer {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, ''];
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const h = groups(head!);
  const t = groups(tail!);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(all.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

/** The header (v1 text or v2 binary) naming `src`:`sport` → `dst`:`dport` over TCP. */
export function proxyHeader(version: 1 | 2, src: string, dst: string, sport: number, dport: number): Buffer {
  const six = src.includes(':');
  if (version === 1) return Buffer.from(`PROXY TCP${six ? 6 : 4} ${src} ${dst} ${sport} ${dport}\r\n`);
  return six
    ? v2Header(1, 0x21, inet6(src, dst, sport, dport))
    : v2Header(1, 0x11, inet4(src, dst, sport, dport));
}

/** Everything the server sends until it closes (or 5 s). */
export function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
