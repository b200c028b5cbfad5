/**
 * `local_reply_config` at work (Envoy's LocalReplyImpl::rewrite): a reply Legate makes itself (404
 * no route, 503 no healthy upstream, 504 timeout, 403 upgrade refused, …) goes through the first
 * mapper whose filter matches — with the reply's status as the response code — which may change its
 * status, replace its body text and add headers; then the body is formatted with the mapper's
 * `body_format_override`, or the config's `body_format`, or left as it is.
 */
import type { LocalReplyBodyFormat, LocalReplyConfig } from '../../../config/bootstrap';
import type { AccessLogStream } from '../../../access-log/api';
import { compileLogFilter, type LogFilter } from '../../../access-log/filter';
import { compileLogFormat, type Formatter } from '../../../access-log/log-format';
import { HeaderMap } from '../../../http/header-map';
import { HeaderMutationApplier } from '../../../router/header-mutations';

/** What the stream tells the rewriter; it sets `status` and `body` as the rewrite goes. */
export interface LocalReplyStream extends AccessLogStream {
  /** The reply being made: read by filters (%RESPONSE_CODE%) and formats (%LOCAL_REPLY_BODY%). */
  localReplyStatus: number;
  localReplyText: string;
}

export interface RewrittenReply {
  status: number;
  body: string;
  /** '' when the body format did not name one (the default text/plain applies). */
  contentType: string;
}

interface CompiledBodyFormat {
  formatter: Formatter;
  contentType: string;
}

interface CompiledMapper {
  filter: LogFilter;
  statusCode: number | null;
  body: string | null;
  bodyFormat: CompiledBodyFormat | null;
  headers: HeaderMutationApplier | null;
}

export class LocalReplyRewriter {
  private readonly mappers: CompiledMapper[];
  private readonly bodyFormat: CompiledBodyFormat | null;

  constructor(config: LocalReplyConfig) {
    this.mappers = config.mappers.map((m) => ({
      filter: compileLogFilter(m.filter),
      statusCode: m.statusCode,
      body: m.body,
      bodyFormat: compileBodyFormat(m.bodyFormat),
      headers:
        m.headersToAdd.length === 0
          ? null
          : new HeaderMutationApplier([
              {
                requestHeadersToAdd: [],
                requestHeadersToRemove: [],
                responseHeadersToAdd: m.headersToAdd,
                responseHeadersToRemove: [],
              },
            ]),
    }));
    this.bodyFormat = compileBodyFormat(config.bodyFormat);
  }

  /** Rewrites the reply `stream` is making; `headers` (the reply's) get the mapper's additions. */
  rewrite(stream: LocalReplyStream, headers: HeaderMap): RewrittenReply {
    let format = this.bodyFormat;
    for (const mapper of this.mappers) {
      if (!mapper.filter.matches(stream)) continue;
      if (mapper.body !== null) stream.localReplyText = mapper.body;
      mapper.headers?.applyResponse(headers, stream);
      if (mapper.statusCode !== null) stream.localReplyStatus = mapper.statusCode;
      if (mapper.bodyFormat !== null) format = mapper.bodyFormat;
      break;
    }
    const status = stream.localReplyStatus;
    if (format === null) return { status, body: stream.localReplyText, contentType: '' };
    return { status, body: format.formatter.format(stream), contentType: format.contentType };
  }
}

function compileBodyFormat(c: LocalReplyBodyFormat | null): CompiledBodyFormat | null {
  if (c === null) return null;
  const contentType =
    c.contentType !== '' ? c.contentType : c.format.kind === 'json' ? 'application/json' : 'text/plain';
  return { formatter: compileLogFormat(c.format), contentType };
}
