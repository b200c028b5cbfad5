/**
 * The native engine's codec settings for one listener, from the HTTP connection manager's codec
 * options (the same ServerCodecOptions Legate's JS codec takes), including the local replies the
 * engine writes itself for malformed requests, serialised here so both codecs send the same bytes.
 */
import type { ServerCodecOptions } from '../http/server-connection';
import { localReplyBody, serializeLocalReply } from '../http/local-reply';

/** engine.h LG_REPLY_SLOTS order. */
const REPLY_STATUSES = [400, 408, 413, 426, 431, 501, 505];
const UNDERSCORES = { ALLOW: 0, REJECT_REQUEST: 1, DROP_HEADER: 2 } as const;

export interface EngineCodecLimits {
  maxHeadBytes: number;
  maxHeaders: number;
  underscores: number;
  acceptHttp10: boolean;
  maxBodyBytes: number;
  replies: string[];
}

export function engineCodecLimits(options: Readonly<ServerCodecOptions>): EngineCodecLimits {
  return {
    maxHeadBytes: options.maxRequestHeadersKb * 1024,
    maxHeaders: options.maxRequestHeadersCount,
    underscores: UNDERSCORES[options.headersWithUnderscoresAction],
    acceptHttp10: options.acceptHttp10,
    maxBodyBytes: options.maxRequestBodyBytes,
    replies: REPLY_STATUSES.map((status) => serializeLocalReply(status, localReplyBody(status), true)),
  };
}
