/**
 * The `access_log` list of an owner (the HTTP connection manager today; listeners and tcp_proxy
 * can reuse it): parsed on the primary through the registry (category 'access_logger'), turned
 * into loggers once per worker.
 */
import type { ExtensionConfig } from '../config/bootstrap';
import type { ObjectReader } from '../config/config-reader';
import { resolveExtension } from '../config/extension';
import type { ParseContext, Registry } from '../registry/registry';
import { buildAt, buildEach } from '../config/build-error';
import {
  isAccessLoggerFactory,
  type AccessLogger,
  type AccessLogSinks,
  type AccessLogStream,
  type LogSink,
} from './api';
import type { Formatter } from './log-format';
import { THREAD_SINKS } from './sinks';

/** Parses `r.access_log[]`; entries that name no known logger are reported and left out. */
export function parseAccessLogs(r: ObjectReader, ctx: ParseContext): ExtensionConfig[] {
  const out: ExtensionConfig[] = [];
  for (const entry of r.objectArray('access_log')) {
    entry.unsupported('filter', 'access log filters');
    const resolved = resolveExtension(entry, 'access_logger', ctx);
    if (resolved !== null) out.push(resolved.config);
  }
  return out;
}

/** Builds this worker's loggers for a parsed `access_log` list (default: on the thread's sinks). */
export function createAccessLoggers(
  configs: readonly ExtensionConfig[],
  registry: Registry,
  sinks: AccessLogSinks = THREAD_SINKS,
): AccessLogger[] {
  return buildEach(configs, (c) =>
    buildAt(c.at, () => {
      const factory = registry.get('access_logger', c.name);
      if (!isAccessLoggerFactory(factory)) throw new Error(`'${c.name}' is not an access logger`);
      return factory.createLogger(c.config, sinks);
    }),
  );
}

/** The logger every built-in access logger is: a compiled format writing to a buffered sink. */
export class FormattedLogger implements AccessLogger {
  constructor(
    private readonly formatter: Formatter,
    private readonly sink: LogSink,
  ) {}

  log(stream: AccessLogStream): void {
    this.sink.write(this.formatter.format(stream));
  }

  get responseHeadersRead(): readonly string[] {
    return this.formatter.responseHeadersRead;
  }
}
