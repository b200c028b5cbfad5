/**
 * `path_with_escaped_slashes_action`, as Envoy's maybeNormalizePath: `%2F` / `%5C` (either case,
 * before '?') are kept (KEEP_UNCHANGED, the default), refused with 400 (REJECT_REQUEST), unescaped
 * and forwarded (UNESCAPE_AND_FORWARD; `normalize_path` then turns `\` into `/`), or unescaped and
 * answered with a 307 to the new path (UNESCAPE_AND_REDIRECT; a gRPC request gets 400, it cannot
 * follow). The origin answers with the path it received.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  catchAllYaml,
  legateSet,
  rawExchange,
  startOrigin,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

let origin: Origin;
const legates = legateSet();

before(async () => {
  origin = await startOrigin((req, res) => res.end(req.url));
});

after(async () => {
  await legates.stopAll();
  await origin.close();
});

function proxyWith(hcmExtra: string): Promise<LegateProcess> {
  return legates.start(catchAllYaml([origin.port], { hcmExtra }));
}

/** Status line and, for a 307, its location; else the body (the path the origin saw). */
async function outcome(lp: LegateProcess, path: string, extra = ''): Promise<string> {
  const text = await rawExchange(
    lp.ports.get('proxy')!,
    `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${extra}\r\n`,
  );
  const status = text.slice(9, 12);
  if (status === '307') return `307 ${/\r\nlocation: ([^\r]*)/i.exec(text)?.[1]}`;
  return `${status} ${text.slice(text.indexOf('\r\n\r\n') + 4)}`;
}

const counters = async (lp: LegateProcess): Promise<[number, number]> => [
  await stat(lp, 'http.ingress_http.downstream_rq_failed_path_normalization'),
  await stat(lp, 'http.ingress_http.downstream_rq_redirected_with_normalized_path'),
];

test('KEEP_UNCHANGED (the default): escaped slashes reach the upstream as sent', async () => {
  const lp = await proxyWith('');
  assert.equal(await outcome(lp, '/a%2Fb%5cc?q=%2F'), '200 /a%2Fb%5cc?q=%2F');
});

test('REJECT_REQUEST: 400 for an escaped slash in the path, not in the query', async () => {
  const lp = await proxyWith('path_with_escaped_slashes_action: REJECT_REQUEST');
  assert.match(await outcome(lp, '/a%2fb'), /^400 /);
  assert.equal(await outcome(lp, '/a/b?next=%2F'), '200 /a/b?next=%2F');
  assert.deepEqual(await counters(lp), [1, 0]);
});

test('UNESCAPE_AND_FORWARD: unescaped (then normalize_path makes the backslash a slash)', async () => {
  const lp = await proxyWith('path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD\nnormalize_path: true');
  assert.equal(await outcome(lp, '/a%2Fb%5Cc?q=%2F'), '200 /a/b/c?q=%2F');
});

test('UNESCAPE_AND_REDIRECT: 307 to the unescaped path; a gRPC request gets 400', async () => {
  const lp = await proxyWith('path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT\nmerge_slashes: true');
  assert.equal(await outcome(lp, '/a%2F%2Fb?q=1'), '307 /a/b?q=1');
  assert.equal(await outcome(lp, '/plain'), '200 /plain', 'nothing to unescape: forwarded');
  const grpc = await rawExchange(
    lp.ports.get('proxy')!,
    'GET /a%2Fb HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/grpc\r\n\r\n',
  );
  assert.match(grpc, /\r\ngrpc-status: 13\r\n/, 'the 400 as a gRPC reply (INTERNAL)');
  assert.deepEqual(await counters(lp), [1, 1]);
});
