/**
 * A minimal leveled logger with Envoy's level names. Writes to stderr synchronously-ish (the data
 * plane logs only at debug/trace, which are off by default, so this never sits on the hot path).
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let threshold = LOG_LEVELS.indexOf('info');
let prefix = '';

export function setLogLevel(level: LogLevel): void {
  threshold = LOG_LEVELS.indexOf(level);
}

export function getLogLevel(): LogLevel {
  return LOG_LEVELS[threshold]!;
}

/** Tags every line with the thread it came from, e.g. 'worker 1'. */
export function setLogPrefix(p: string): void {
  prefix = p ? `[${p}] ` : '';
}

export function isLogEnabled(level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= threshold;
}

function write(level: LogLevel, msg: string): void {
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  process.stderr.write(`[${new Date().toISOString()}][${level}] ${prefix}${msg}\n`);
}

export const log = {
  trace: (m: string) => write('trace', m),
  debug: (m: string) => write('debug', m),
  info: (m: string) => write('info', m),
  warn: (m: string) => write('warn', m),
  error: (m: string) => write('error', m),
};
