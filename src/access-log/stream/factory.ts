/**
 * `envoy.access_loggers.stdout` and `envoy.access_loggers.stderr` (Envoy's `stream` access loggers,
 * StdoutAccessLog / StderrAccessLog): the same logger on two sinks.
 */
import type { ObjectReader } from '../../config/config-reader';
import type { AccessLoggerFactory, AccessLogSinks } from '../api';
import { FormattedLogger } from '../access-logs';
import { compileLogFormat, parseLogFormat, type LogFormatConfig } from '../log-format';

export interface StreamAccessLogConfig {
  format: LogFormatConfig;
}

function streamLoggerFactory(
  which: 'stdout' | 'stderr',
  typeName: string,
): AccessLoggerFactory<StreamAccessLogConfig> {
  return {
    category: 'access_logger',
    name: `envoy.access_loggers.${which}`,
    typeUrls: [`type.googleapis.com/envoy.extensions.access_loggers.stream.v3.${typeName}`],
    parseConfig(r: ObjectReader | null): StreamAccessLogConfig {
      return { format: parseLogFormat(r?.object('log_format') ?? null) };
    },
    createLogger(c, sinks: AccessLogSinks) {
      return new FormattedLogger(compileLogFormat(c.format), sinks[which]());
    },
  };
}

export const stdoutAccessLoggerFactory = streamLoggerFactory('stdout', 'StdoutAccessLog');
export const stderrAccessLoggerFactory = streamLoggerFactory('stderr', 'StderrAccessLog');
