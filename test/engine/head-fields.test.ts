/**
 * Header fields passed through a proxied exchange reach the other side as the same bytes whatever
 * path wrote them. On the native engine, a head written while the event that carried its source
 * head is being handled names the unchanged fields for C to copy (HeadWriter.nameFieldsOf); a head
 * written later (the first request on a fresh upstream connection waits for the connect) is written
 * whole by JS. The JS engine (LEGATE_ENGINE=js) writes every head itself. Each case sends the same
 * request twice on one client connection, so the origin sees one head of each kind, and checks both
 * heads in both directions field by field: names lower-cased, order kept, duplicates, empty values,
 * tabs and obs-text inside values, fields edited or removed in the middle, and more than 256 fields
 * (field numbers that need the index's second byte).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { catchAllVirtualHost, httpProxyYaml, startLegate, staticCluster } from '../integration/harness';

/** Fields of the shape under test (`X-T-…`), as the client or the origin sends them. */
function sentFields(count: number): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['X-T-Mixed-Case', 'Value Kept As Is'],
    ['x-t-dup', 'one'],
    ['X-T-Edit', 'old'],
    ['x-t-dup', 'two'],
    ['X-T-Empty', ''],
    ['X-T-Tab', 'a\tb'],
    ['X-T-Obs', 'caf\u00e9'],
    ['X-T-Remove', 'gone'],
    ['X-T-One', '1'],
  ];
  for (let i = fields.length; i < count; i++) fields.push([`X-T-F${i}`, `v${i % 7 === 0 ? '' : i}`]);
  fields.push(['x-t-last', 'end']);
  return fields;
}

/** What the other side must get: lower-case names, `x-t-edit` overwritten in place, `x-t-remove` gone. */
function expectedLines(fields: Array<[string, string]>): string[] {
  return fields
    .filter(([name]) => name.toLowerCase() !== 'x-t-remove')
    .map(([name, value]) => {
      const lower = name.toLowerCase();
      return `${lower}: ${lower === 'x-t-edit' ? 'new' : value}`;
    });
}

function testLines(head: string): string[] {
  return head.split('\r\n').filter((line) => line.startsWith('x-t-') || line.startsWith('X-T-'));
}

const HEAD_END = '\r\n\r\n';

interface HeadOrigin {
  port: number;
  heads: string[];
  close(): Promise<void>;
}

/** Answers every request (no body) with the response fields, recording each request head. */
function startHeadOrigin(responseFields: Array<[string, string]>): Promise<HeadOrigin> {
  const body = 'ok';
  const response =
    'HTTP/1.1 200 OK\r\n' +
    responseFields.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
    `Content-Length: ${body.length}\r\n\r\n${body}`;
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      for (let end = buffered.indexOf(HEAD_END); end !== -1; end = buffered.indexOf(HEAD_END)) {
        heads.push(buffered.slice(0, end));
        buffered = buffered.slice(end + HEAD_END.length);
        socket.write(Buffer.from(response, 'latin1'));
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        heads,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

/** Sends `request` `times` times on one connection; the response heads, in order. */
function sendOnOneConnection(port: number, request: string, times: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const heads: string[] = [];
    let buffered = '';
    const timer = setTimeout(() => socket.destroy(new Error(`only ${heads.length} responses in 5 s`)), 5000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const send = (): boolean => socket.write(Buffer.from(request, 'latin1'));
    socket.on('connect', send);
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      const end = buffered.indexOf(HEAD_END);
      const length = /\r\ncontent-length: (\d+)/i.exec(buffered.slice(0, end));
      if (end === -1 || length === null || buffered.length < end + 4 + Number(length[1])) return;
      heads.push(buffered.slice(0, end));
      buffered = buffered.slice(end + 4 + Number(length[1]));
      if (heads.length < times) {
        send();
        return;
      }
      clearTimeout(timer);
      socket.end();
      resolve(heads);
    });
  });
}

for (const count of [12, 300]) {
  test(`header fields pass through unchanged in both directions, ${count} test fields`, async () => {
    const fields = sentFields(count);
    const origin = await startHeadOrigin(fields);
    const editAndRemove = `
- header: { key: x-t-edit, value: new }
  append_action: OVERWRITE_IF_EXISTS_OR_ADD`;
    const legate = await startLegate(
      httpProxyYaml({
        admin: false,
        hcmExtra: `common_http_protocol_options: { max_headers_count: ${count + 20} }`,
        virtualHosts: catchAllVirtualHost({
          routeFields: `
request_headers_to_add:${editAndRemove}
request_headers_to_remove: [x-t-remove]
response_headers_to_add:${editAndRemove}
response_headers_to_remove: [x-t-remove]`,
        }),
        clusters: staticCluster('o', [origin.port]),
      }),
      { concurrency: 1 },
    );
    try {
      const request =
        'GET /fields HTTP/1.1\r\nHost: example\r\n' +
        fields.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
        '\r\n';
      const responses = await sendOnOneConnection(legate.ports.get('proxy')!, request, 2);
      const expected = expectedLines(fields);
      assert.equal(origin.heads.length, 2, 'the origin got both requests');
      for (const [i, head] of origin.heads.entries()) {
        assert.deepEqual(testLines(head), expected, `request ${i + 1} at the origin`);
        assert.match(head, /^GET \/fields HTTP\/1\.1\r\n/);
      }
      for (const [i, head] of responses.entries()) {
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
        assert.deepEqual(testLines(head), expected, `response ${i + 1} at the client`);
      }
    } finally {
      await legate.stop();
      await origin.close();
    }
  });
}
