/**
 * Local replies: responses Legate makes itself (codec errors, the connection manager's 404/503…).
 * Both codecs and the connection manager build them here so status texts and bodies agree.
 */
import { HeaderMap } from './header-map';
import type { ResponseHead } from './codec';

/** Standard reason phrases (RFC 9110 plus the common extensions proxies meet). */
const STATUS_TEXT: { readonly [status: number]: string } = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  511: 'Network Authentication Required',
};

/** The standard reason phrase for `status`, or 'Unknown'. */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Unknown';
}

/** `HTTP/1.1 <status> <reason>\r\n` for every known status, built once. */
const STATUS_LINES = new Map<number, string>();
for (const key of Object.keys(STATUS_TEXT)) {
  const status = Number(key);
  STATUS_LINES.set(status, `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n`);
}

/** Every known status line by status (holes elsewhere), for a codec that writes them itself. */
export function statusLinesByStatus(): (string | undefined)[] {
  const lines: (string | undefined)[] = [];
  for (const [status, line] of STATUS_LINES) lines[status] = line;
  return lines;
}

/** The HTTP/1.1 status line (with CRLF) for `status`; `reason` '' means the standard phrase. */
export function statusLine(status: number, reason: string): string {
  if (reason === '') {
    const cached = STATUS_LINES.get(status);
    if (cached !== undefined) return cached;
    reason = statusText(status);
  }
  return `HTTP/1.1 ${status} ${reason}\r\n`;
}

/** A local reply's head: `content-type: text/plain`, standard reason. The body is `body`. */
export function localReplyHead(status: number): ResponseHead {
  const headers = new HeaderMap();
  headers.add('content-type', 'text/plain');
  return { status, reason: '', headers };
}

/** The default body of a local reply: the reason phrase, or `details` when given. */
export function localReplyBody(status: number, details = ''): string {
  return details === '' ? statusText(status) : details;
}

/**
 * A complete HTTP/1.1 local reply as one latin1 string, for codecs that answer without a stream
 * (malformed requests). `close` adds `connection: close`.
 */
export function serializeLocalReply(status: number, body: string, close: boolean): string {
  return (
    statusLine(status, '') +
    'content-type: text/plain\r\n' +
    `content-length: ${Buffer.byteLength(body, 'latin1')}\r\n` +
    (close ? 'connection: close\r\n\r\n' : '\r\n') +
    body
  );
}
