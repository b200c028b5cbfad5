/**
 * The external programs the suite drives. Missing ones are installed from Debian packages with a
 * visible message; if that fails they stay missing, and every system that needs them is reported as
 * failed (never skipped silently).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Requirement → Debian package. Requirements are programs on PATH, except the file-backed ones below. */
const PACKAGES: Record<string, string> = {
  nginx: 'nginx',
  haproxy: 'haproxy',
  wrk: 'wrk',
  h2load: 'nghttp2-client',
  iperf3: 'iperf3',
  'nginx-stream-module': 'libnginx-mod-stream',
};

/** Debian's nginx builds the stream (L4) module as a separate, dynamically loaded package. */
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const FILES: Record<string, string> = { 'nginx-stream-module': NGINX_STREAM_MODULE };

export function hasProgram(name: string): boolean {
  const file = FILES[name];
  if (file !== undefined) return existsSync(file);
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Installs the missing programs (and modules); returns the ones still missing afterwards. */
export function ensurePrograms(names: string[], log: (line: string) => void): Set<string> {
  const missing = names.filter((n) => !hasProgram(n));
  if (missing.length === 0) return new Set();
  const packages = missing.map((n) => PACKAGES[n] ?? n);
  log(`bench-suite: installing missing programs with apt-get: ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env })
      .status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install();
  }
  const still = new Set(missing.filter((n) => !hasProgram(n)));
  if (still.size > 0) log(`bench-suite: ERROR: still missing after apt-get: ${[...still].join(' ')}`);
  return still;
}
