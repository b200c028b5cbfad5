/** `envoy.access_loggers.file` (FileAccessLog): lines appended to `path`. */
import type { ObjectReader } from '../../config/config-reader';
import { rejectUnsupported } from '../../config/unsupported';
import type { AccessLoggerFactory } from '../api';
import { FormattedLogger } from '../access-logs';
import { compileLogFormat, parseLogFormat, type LogFormatConfig } from '../log-format';

export interface FileAccessLogConfig {
  path: string;
  format: LogFormatConfig;
}

/** A file logger with Envoy's default format (what `admin.access_log_path` asks for). */
export function defaultFileAccessLog(path: string): FileAccessLogConfig {
  return { path, format: parseLogFormat(null) };
}

/** FileAccessLog's pre-`log_format` fields, deprecated in Envoy. */
const DEPRECATED_FORMAT_FIELDS = ['format', 'json_format', 'typed_json_format'] as const;

export const fileAccessLoggerFactory: AccessLoggerFactory<FileAccessLogConfig> = {
  category: 'access_logger',
  name: 'envoy.access_loggers.file',
  typeUrls: ['type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog'],
  aliases: ['envoy.file_access_log'],
  parseConfig(r: ObjectReader | null): FileAccessLogConfig {
    if (r === null)
      throw new Error('envoy.access_loggers.file: parseConfig needs a reader (path is required)');
    rejectUnsupported(r, DEPRECATED_FORMAT_FIELDS);
    return { path: r.requiredString('path'), format: parseLogFormat(r.object('log_format')) };
  },
  createLogger(c, sinks) {
    return new FormattedLogger(compileLogFormat(c.format), sinks.file(c.path));
  },
};
