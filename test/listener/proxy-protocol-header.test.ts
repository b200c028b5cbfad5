/**
 * The PROXY protocol header parser: v1 and v2 headers as HAProxy writes them, every split point
 * (a header arriving a byte at a time is never mistaken for anything), malformed shapes, LOCAL /
 * UNKNOWN, TLVs skipped, and IPv6 text as Node and URL print it (seeded).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatIpv6,
  parseProxyHeader,
  ProxyHeaderStatus,
} from '../../src/filters/listener/proxy-protocol/header';
import { inet4, v2Header } from './fixtures';

const TLVS = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63, 0x20, 0x00, 0x01, 0x00]);

test('v1 and v2 headers: addresses, length, bytes after the header untouched', () => {
  const v1 = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nGET /');
  let h = parseProxyHeader(v1);
  assert.equal(h.status, ProxyHeaderStatus.Found);
  assert.equal(h.version, 1);
  assert.equal(v1.subarray(h.length).toString(), 'GET /');
  assert.deepEqual(h.addresses, {
    remoteAddress: '192.0.2.7',
    remotePort: 56324,
    localAddress: '198.51.100.1',
    localPort: 443,
  });
  h = parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8::1 2001:db8::2 1 65535\r\n'));
  assert.deepEqual(h.addresses, {
    remoteAddress: '2001:db8::1',
    remotePort: 1,
    localAddress: '2001:db8::2',
    localPort: 65535,
  });
  h = parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nx'));
  assert.deepEqual([h.status, h.version, h.length, h.addresses], [ProxyHeaderStatus.Found, 1, 35, null]);

  const v2 = Buffer.concat([
    v2Header(1, 0x11, inet4('203.0.113.9', '10.1.2.3', 4000, 8443), TLVS),
    Buffer.from('rest'),
  ]);
  h = parseProxyHeader(v2);
  assert.deepEqual([h.status, h.version], [ProxyHeaderStatus.Found, 2]);
  assert.equal(v2.subarray(h.length).toString(), 'rest');
  assert.deepEqual(h.addresses, {
    remoteAddress: '203.0.113.9',
    remotePort: 4000,
    localAddress: '10.1.2.3',
    localPort: 8443,
  });
  const six = Buffer.alloc(36);
  six.write('20010db8000000000000000000000001', 0, 'hex');
  six.write('00000000000000000000ffff7f000001', 16, 'hex');
  six.writeUInt16BE(1234, 32);
  six.writeUInt16BE(80, 34);
  h = parseProxyHeader(v2Header(1, 0x21, six));
  assert.deepEqual(h.addresses, {
    remoteAddress: '2001:db8::1',
    remotePort: 1234,
    localAddress: '::ffff:7f00:1',
    localPort: 80,
  });
  // LOCAL (a health check from the proxy itself): addresses ignored, even absent ones.
  h = parseProxyHeader(v2Header(0, 0x00, Buffer.alloc(0)));
  assert.deepEqual([h.status, h.version, h.length, h.addresses], [ProxyHeaderStatus.Found, 2, 16, null]);
});

test('every prefix of a header needs more bytes; the whole is found', () => {
  const headers = [
    Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n'),
    v2Header(1, 0x11, inet4('1.2.3.4', '5.6.7.8', 1, 2), TLVS),
  ];
  for (const header of headers) {
    for (let n = 1; n < header.length; n++) {
      const h = parseProxyHeader(header.subarray(0, n));
      assert.equal(h.status, ProxyHeaderStatus.NeedMore, `${n} of ${header.length} bytes`);
    }
    assert.equal(parseProxyHeader(header).length, header.length);
  }
});

test('not a header, and malformed ones', () => {
  for (const text of ['GET / HTTP/1.1\r\n\r\n', 'POST /', '\x16\x03\x01\x02\x00', 'PROX\n', 'proxy TCP4']) {
    assert.equal(parseProxyHeader(Buffer.from(text, 'latin1')).status, ProxyHeaderStatus.NotFound, text);
  }
  const malformedV1 = [
    'PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 9\r\n',
    'PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n',
    'PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n',
    'PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n',
    'PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n',
    'PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n',
    `PROXY UNKNOWN ${'x'.repeat(100)}\r\n`,
    `PROXY TCP4 ${'1'.repeat(110)}`,
  ];
  for (const text of malformedV1) {
    const h = parseProxyHeader(Buffer.from(text));
    assert.deepEqual([h.status, h.version], [ProxyHeaderStatus.Malformed, 1], text);
  }
  const addresses = inet4('1.2.3.4', '5.6.7.8', 1, 2);
  const badVersion = v2Header(1, 0x11, addresses);
  badVersion[12] = 0x11;
  const malformedV2: [string, Buffer][] = [
    ['version 1 in the v2 preamble', badVersion],
    ['command 2', v2Header(2, 0x11, addresses)],
    ['AF_UNIX with PROXY', v2Header(1, 0x31, Buffer.alloc(216))],
    ['UNSPEC with PROXY', v2Header(1, 0x00, Buffer.alloc(0))],
    ['transport 3', v2Header(1, 0x13, addresses)],
    ['addresses shorter than IPv4 needs', v2Header(1, 0x11, addresses.subarray(0, 11))],
    ['IPv4 length with an IPv6 family', v2Header(1, 0x21, addresses)],
  ];
  for (const [what, bytes] of malformedV2) {
    const h = parseProxyHeader(bytes);
    assert.deepEqual([h.status, h.version], [ProxyHeaderStatus.Malformed, 2], what);
  }
});

test('IPv6 text is what URL prints (seeded)', () => {
  const seed = Number(process.env.LEGATE_SEED ?? Date.now() % 1_000_000);
  let state = seed;
  const next = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31);
  const bytes = Buffer.alloc(16);
  for (let i = 0; i < 2000; i++) {
    // Mostly zero groups, so that runs of every length and position come up.
    for (let g = 0; g < 8; g++) bytes.writeUInt16BE(next() % 3 === 0 ? next() % 65536 : 0, 2 * g);
    const full = Array.from({ length: 8 }, (_, g) => bytes.readUInt16BE(2 * g).toString(16)).join(':');
    const expected = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    assert.equal(formatIpv6(bytes, 0), expected, `seed ${seed}, iteration ${i}: ${full}`);
  }
});
