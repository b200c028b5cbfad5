/**
 * Parses the connection manager's `local_reply_config` (Envoy's LocalReplyConfig): `mappers` — each an
 * access-log `filter` with the `status_code`, `body`, `body_format_override` and `headers_to_add` it
 * applies — and the `body_format` every local reply is written with.
 */
import type { LocalReplyBodyFormat, LocalReplyConfig, LocalReplyMapper } from '../../../config/bootstrap';
import type { ObjectReader } from '../../../config/config-reader';
import { readDataSource } from '../../../config/data-source';
import { parseHeadersToAdd } from '../../../config/route/header-mutations';
import { parseLogFilter } from '../../../access-log/filter';
import { parseLogFormat } from '../../../access-log/log-format';

/** Envoy's default body format: the reply's own text. */
export const LOCAL_REPLY_BODY_FORMAT = '%LOCAL_REPLY_BODY%';

export function parseLocalReplyConfig(r: ObjectReader | null): LocalReplyConfig | null {
  if (r === null) return null;
  return {
    mappers: r.objectArray('mappers').map(parseMapper),
    bodyFormat: parseBodyFormat(r.object('body_format')),
  };
}

function parseMapper(r: ObjectReader): LocalReplyMapper {
  return {
    filter: parseLogFilter(r.requiredObject('filter')),
    statusCode: r.has('status_code') ? r.wrappedUint('status_code', 200, { min: 200, max: 599 }) : null,
    body: r.has('body') ? readDataSource(r, 'body') : null,
    bodyFormat: parseBodyFormat(r.object('body_format_override')),
    headersToAdd: parseHeadersToAdd(r, 'response', 'headers_to_add'),
  };
}

function parseBodyFormat(r: ObjectReader | null): LocalReplyBodyFormat | null {
  if (r === null) return null;
  return {
    format: parseLogFormat(r, LOCAL_REPLY_BODY_FORMAT, true),
    contentType: r.string('content_type', ''),
  };
}
