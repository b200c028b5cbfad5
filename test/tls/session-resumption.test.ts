/**
 * Session resumption by tickets: with SO_REUSEPORT a client's reconnections reach any worker, and
 * each resumes because every worker shares the ticket key made once on the primary (TLS 1.2 and
 * 1.3, counted in ssl.session_reused). session_ticket_keys from a file: two Legate processes with
 * the same key resume each other's tickets. disable_stateless_session_resumption: none resume.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { test } from 'node:test';
import { stat, startLegate, type LegateProcess } from '../integration/harness';
import { errorAt, issuesOf, load } from '../config/helpers';
import { chainYaml, listenerYaml, pem, staticCluster, tlsSocketYaml } from './fixtures';

const ROUTE = `- match: { prefix: / }
  direct_response: { status: 200, body: { inline_string: "ok" } }`;

function yaml(context = ''): string {
  return listenerYaml({
    chains: [chainYaml({ cluster: 'c', routes: ROUTE, tls: tlsSocketYaml({ context }) })],
    clusters: [staticCluster('c', 1)],
  });
}

/** One request on a new connection offering `session`; what it resumed and the session to offer next. */
function connectOnce(
  port: number,
  version: tls.SecureVersion,
  session: Buffer | undefined,
): Promise<{ reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let next: Buffer | undefined;
    let reused = false;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'a.example',
      ca: pem('ca.crt'),
      minVersion: version,
      maxVersion: version,
      session,
    });
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 5 s')), 5000);
    // TLS 1.3 tickets come after the handshake: read the response first, so the ticket is in.
    socket.on('session', (s: Buffer) => (next = s));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
    });
    socket.resume();
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ reused, session: next ?? session });
    });
  });
}

/** How many of `n` reconnections resumed, each offering the session the previous one got. */
async function resumptions(ports: number[], version: tls.SecureVersion, n: number): Promise<number> {
  let { session } = await connectOnce(ports[0]!, version, undefined);
  let reused = 0;
  for (let i = 0; i < n; i++) {
    const r = await connectOnce(ports[(i + 1) % ports.length]!, version, session);
    if (r.reused) reused++;
    session = r.session;
  }
  return reused;
}

/** The listener asks for port 0: its stats are named by that. */
const sessionReused = (lp: LegateProcess): Promise<number> =>
  stat(lp, 'listener.127.0.0.1_0.ssl.session_reused');

const RECONNECTS = 20;

test('tickets resume on every worker (2 SO_REUSEPORT workers), TLS 1.2 and 1.3, counted', async () => {
  const lp = await startLegate(yaml(), { concurrency: 2 });
  try {
    const port = lp.ports.get('proxy')!;
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const)
      assert.equal(await resumptions([port], version, RECONNECTS), RECONNECTS, version);
    assert.equal(await sessionReused(lp), 2 * RECONNECTS);
  } finally {
    await lp.stop();
  }
});

test('session_ticket_keys: two processes with the same key file resume each other; disabled: none resume', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-ticket-keys-'));
  const keyFile = path.join(dir, 'ticket.key');
  fs.writeFileSync(keyFile, randomBytes(80));
  const keyed = `session_ticket_keys: { keys: [{ filename: ${keyFile} }] }`;
  const a = await startLegate(yaml(keyed), { concurrency: 1 });
  const b = await startLegate(yaml(keyed), { concurrency: 1 });
  const off = await startLegate(yaml('disable_stateless_session_resumption: true'), { concurrency: 2 });
  try {
    const ports = [a.ports.get('proxy')!, b.ports.get('proxy')!];
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      assert.equal(await resumptions(ports, version, 10), 10, version);
      assert.equal(await resumptions([off.ports.get('proxy')!], version, 5), 0, version);
    }
    assert.equal((await sessionReused(a)) + (await sessionReused(b)), 20);
    assert.equal(await sessionReused(off), 0);
  } finally {
    await Promise.all([a.stop(), b.stop(), off.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('session resumption config: key size, keys with disabled tickets, several keys, session_timeout', () => {
  const ctx = 'static_resources.listeners[0].filter_chains[0].transport_socket.typed_config';
  const short = errorAt(
    issuesOf(
      yaml(`session_ticket_keys: { keys: [{ inline_bytes: ${randomBytes(48).toString('base64')} }] }`),
    ),
    `${ctx}.session_ticket_keys.keys[0]`,
  );
  assert.match(short.message, /80 bytes, found 48/);
  const both = errorAt(
    issuesOf(
      yaml(
        `disable_stateless_session_resumption: true\nsession_ticket_keys: { keys: [{ inline_bytes: ${randomBytes(80).toString('base64')} }] }`,
      ),
    ),
    `${ctx}.session_ticket_keys`,
  );
  assert.match(both.message, /disable_stateless_session_resumption/);
  const two = load(
    yaml(
      `session_timeout: 90s\nsession_ticket_keys: { keys: [{ inline_bytes: ${randomBytes(80).toString('base64')} }, { inline_bytes: ${randomBytes(80).toString('base64')} }] }`,
    ),
  );
  assert.ok(
    two.warnings.some(
      (w) => w.path === `${ctx}.session_ticket_keys.keys` && /only the first key/.test(w.message),
    ),
  );
  const config = two.bootstrap.listeners[0]!.filterChains[0]!.transportSocket!.config as {
    sessionTimeoutS: number;
  };
  assert.equal(config.sessionTimeoutS, 90);
});
