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
import { compileLogFilter, parseLogFilter, type LogFilter, type LogFilterConfig } from './filter';
import { THREAD_SINKS } from './sinks';

/** One `access_log` entry: its logger, and the `filter` that decides which streams it logs. */
export interface AccessLogConfig extends ExtensionConfig {
  filter?: LogFilterConfig;
}

/** Parses `r.access_log[]`; entries that name no known logger are reported and left out. */
export function parseAccessLogs(r: ObjectReader, ctx: ParseContext): AccessLogConfig[] {
  const out: AccessLogConfig[] = [];
  for (const entry of r.objectArray('access_log')) {
    const filter = entry.object('filter');
    const resolved = resolveExtension(entry, 'access_logger', ctx);
    if (resolved === null) continue;
    out.push(filter === null ? resolved.config : { ...resolved.config, filter: parseLogFilter(filter) });
  }
  return out;
}

/** Builds this worker's loggers for a parsed `access_log` list (default: on the thread's sinks). */
export function createAccessLoggers(
  configs: readonly AccessLogConfig[],
  registry: Registry,
  sinks: AccessLogSinks = THREAD_SINKS,
): AccessLogger[] {
  return buildEach(configs, (c) =>
    buildAt(c.at, () => {
      const factory = registry.get('access_logger', c.name);
      if (!isAccessLoggerFactory(factory)) throw new Error(`'${c.name}' is not an access logger`);
      const logger = factory.createLogger(c.config, sinks);
      return c.filter === undefined ? logger : new FilteredLogger(logger, compileLogFilter(c.filter));
    }),
  );
}

/** A logger behind its `filter`: only the streams the filter matches are logged. */
class FilteredLogger implements AccessLogger {
  constructor(
    private readonly logger: AccessLogger,
    private readonly filter: LogFilter,
  ) {}

  log(stream: AccessLogStream): void {
    if (this.filter.matches(stream)) this.logger.log(stream);
  }

  get responseHeadersRead(): readonly string[] {
    return this.logger.responseHeadersRead;
  }
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
