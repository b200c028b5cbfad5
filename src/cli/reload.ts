/**
 * `legate reload`: makes a running Legate re-read its config file and apply it (nginx's
 * `nginx -s reload`). By default through the admin API (`POST /reload` on --admin, Envoy's usual
 * 127.0.0.1:9901): the answer says whether the new config was applied or, if not, every error
 * in it, and the exit status follows (0 applied, 1 rejected or unreachable). `--pid` sends SIGHUP
 * instead, for a proxy without an admin listener: the result is then only in its log and in
 * `server.reload_success` / `server.reload_failed`.
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';

const HELP = `Usage: legate reload [--admin HOST:PORT | --pid PID]
  --admin HOST:PORT   the running proxy's admin address (default 127.0.0.1:9901); prints whether the
                      new config was applied, or its errors (exit 1)
  --pid PID           send SIGHUP to that process instead (the result is in its log and stats)
`;

/** Where `legate reload` sends the reload: an admin address, or a process to signal. */
export type ReloadTarget = { admin: { host: string; port: number } } | { pid: number } | { help: true };

/** Parses `legate reload`'s arguments; returns the error text on failure. */
export function parseReloadArgs(argv: string[]): ReloadTarget | string {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: { admin: { type: 'string' }, pid: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values;
  } catch (err) {
    return (err as Error).message;
  }
  if (values.help) return { help: true };
  if (values.pid !== undefined && values.admin !== undefined) return 'give --admin or --pid, not both';
  if (values.pid !== undefined) {
    const pid = Number(values.pid);
    if (!Number.isInteger(pid) || pid <= 0) return `--pid: expected a process id, got '${values.pid}'`;
    return { pid };
  }
  const admin = values.admin ?? '127.0.0.1:9901';
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(admin);
  if (m === null) return `--admin: expected HOST:PORT, got '${admin}'`;
  return { admin: { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } };
}

export async function runReloadCli(argv: string[]): Promise<number> {
  const target = parseReloadArgs(argv);
  if (typeof target === 'string') {
    process.stderr.write(`legate reload: ${target}\n${HELP}`);
    return 1;
  }
  if ('help' in target) {
    process.stdout.write(HELP);
    return 0;
  }
  if ('pid' in target) {
    try {
      process.kill(target.pid, 'SIGHUP');
    } catch (err) {
      return fail(`cannot signal process ${target.pid}: ${(err as Error).message}`);
    }
    process.stdout.write(`sent SIGHUP to ${target.pid}\n`);
    return 0;
  }
  const { host, port } = target.admin;
  try {
    const { status, body } = await post(host, port, '/reload');
    (status === 200 ? process.stdout : process.stderr).write(body);
    return status === 200 ? 0 : 1;
  } catch (err) {
    return fail(`cannot reach the admin at ${host}:${port}: ${(err as Error).message}`);
  }
}

function fail(message: string): number {
  process.stderr.write(`legate reload: ${message}\n`);
  return 1;
}

function post(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method: 'POST' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
