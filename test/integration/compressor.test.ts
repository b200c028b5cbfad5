/**
 * The compressor filter end to end (gzip and brotli): what is compressed and what is not (accept-
 * encoding with q-values and `*`, content types, min_content_length, etags, no-transform, an
 * already encoded body, headers-only answers), the headers that change (content-encoding,
 * content-length gone, vary, weak etag), bodies that decompress to what the origin sent, streamed
 * responses that stay streamed, and the stats.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import {
  ROUTER_FILTER,
  catchAllVirtualHost,
  httpProxyYaml,
  request,
  stat,
  startLegate,
  startOrigin,
  staticCluster,
  type LegateProcess,
  type Origin,
} from './harness';

const PAGE = `<html>${'<p>compress me, compress me</p>'.repeat(60)}</html>`;

/** Released by the streaming test: the origin's second chunk waits for it. */
let releaseSecondChunk: () => void = () => {};

const ROUTES: Record<string, (res: http.ServerResponse) => void> = {
  '/page': (res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(PAGE);
  },
  '/small': (res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('tiny');
  },
  '/image': (res) => {
    res.setHeader('content-type', 'image/png');
    res.end(PAGE);
  },
  '/etag': (res) => {
    res.setHeader('content-type', 'text/html');
    res.setHeader('etag', '"v1"');
    res.end(PAGE);
  },
  '/encoded': (res) => {
    res.setHeader('content-type', 'text/html');
    res.setHeader('content-encoding', 'br');
    res.end(zlib.brotliCompressSync(PAGE));
  },
  '/no-transform': (res) => {
    res.setHeader('content-type', 'text/html');
    res.setHeader('cache-control', 'public, no-transform');
    res.end(PAGE);
  },
  '/no-content': (res) => {
    res.statusCode = 204;
    res.end();
  },
  '/stream': (res) => {
    res.setHeader('content-type', 'application/json');
    res.write('{"first":true,');
    releaseSecondChunk = () => res.end('"second":true}');
  },
};

let origin: Origin;
const proxies: Record<'gzip' | 'br', LegateProcess> = {} as Record<'gzip' | 'br', LegateProcess>;

function compressorFilter(library: string): string {
  return `- name: envoy.filters.http.compressor
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
    response_direction_config:
      common_config: { min_content_length: 100 }
    compressor_library:
      name: text
      typed_config:
        "@type": ${library}
${ROUTER_FILTER}`;
}

before(async () => {
  origin = await startOrigin((req, res) => ROUTES[req.url!]!(res));
  for (const [encoding, library] of [
    ['gzip', 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip'],
    ['br', 'type.googleapis.com/envoy.extensions.compression.brotli.compressor.v3.Brotli'],
  ] as const) {
    proxies[encoding] = await startLegate(
      httpProxyYaml({
        virtualHosts: catchAllVirtualHost(),
        httpFilters: compressorFilter(library),
        clusters: staticCluster('o', [origin.port]),
      }),
      { concurrency: 1 },
    );
  }
});

after(async () => {
  for (const p of Object.values(proxies)) await p.stop();
  await origin.close();
});

function decode(encoding: string | undefined, body: Buffer): string {
  if (encoding === 'gzip') return zlib.gunzipSync(body).toString();
  if (encoding === 'br') return zlib.brotliDecompressSync(body).toString();
  return body.toString();
}

/** [path, accept-encoding, compressed?, vary expected?] */
const CASES: [string, string | undefined, boolean, boolean][] = [
  ['/page', 'ENCODING', true, true],
  ['/page', 'deflate, ENCODING;q=0.5', true, true],
  ['/page', '*', true, true],
  ['/page', undefined, false, true],
  ['/page', 'identity', false, true],
  ['/page', 'ENCODING;q=0, *', false, true],
  ['/small', 'ENCODING', false, false],
  ['/image', 'ENCODING', false, false],
  ['/encoded', 'ENCODING', false, false],
  ['/no-transform', 'ENCODING', false, false],
  ['/no-content', 'ENCODING', false, true],
];

for (const encoding of ['gzip', 'br'] as const) {
  for (const [path, accept, compressed, vary] of CASES) {
    const acceptEncoding = accept?.replaceAll('ENCODING', encoding);
    test(`${encoding}: ${path} with accept-encoding ${acceptEncoding ?? '(none)'}`, async () => {
      const r = await request(proxies[encoding].ports.get('proxy')!, {
        path,
        headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding },
      });
      const contentEncoding = r.headers['content-encoding'] as string | undefined;
      // /encoded arrives brotli-encoded from the origin and must stay as it is.
      if (path === '/encoded') assert.equal(contentEncoding, 'br');
      else assert.equal(contentEncoding === encoding, compressed, `content-encoding ${contentEncoding}`);
      assert.equal(r.headers.vary === 'Accept-Encoding', vary, `vary ${r.headers.vary}`);
      if (compressed) {
        assert.equal(r.headers['content-length'], undefined);
        assert.equal(r.headers['transfer-encoding'], 'chunked');
      }
      if (path === '/page' || path === '/small' || path === '/image' || path === '/no-transform')
        assert.equal(decode(contentEncoding, r.body), path === '/small' ? 'tiny' : PAGE);
      if (path === '/encoded') assert.equal(zlib.brotliDecompressSync(r.body).toString(), PAGE);
    });
  }
}

test('a strong etag becomes weak when the body is compressed', async () => {
  const r = await request(proxies.gzip.ports.get('proxy')!, {
    path: '/etag',
    headers: { 'accept-encoding': 'gzip' },
  });
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(r.headers.etag, 'W/"v1"');
});

test('a streamed response stays streamed: the first chunk arrives, decompressed, before the origin ends', async () => {
  const port = proxies.gzip.ports.get('proxy')!;
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.get(
      { port, host: '127.0.0.1', path: '/stream', headers: { 'accept-encoding': 'gzip' } },
      (res) => {
        assert.equal(res.headers['content-encoding'], 'gzip');
        const gunzip = zlib.createGunzip();
        let out = '';
        gunzip.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out === '{"first":true,') releaseSecondChunk();
        });
        gunzip.on('end', () => resolve(out));
        gunzip.on('error', reject);
        res.pipe(gunzip);
      },
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('the first chunk never came through')));
  });
  assert.equal(text, '{"first":true,"second":true}');
});

test('stats count what was compressed, and why not', async () => {
  const prefix = 'http.ingress_http.compressor.text.gzip.';
  assert.ok((await stat(proxies.gzip, `${prefix}response.compressed`)) >= 5);
  assert.ok((await stat(proxies.gzip, `${prefix}response.content_length_too_small`)) >= 1);
  assert.ok((await stat(proxies.gzip, `${prefix}no_accept_header`)) >= 1);
  assert.ok((await stat(proxies.gzip, `${prefix}header_wildcard`)) >= 1);
  const before = await stat(proxies.gzip, `${prefix}response.total_uncompressed_bytes`);
  const after = await stat(proxies.gzip, `${prefix}response.total_compressed_bytes`);
  assert.ok(after > 0 && after < before, `${after} compressed bytes from ${before}`);
});
