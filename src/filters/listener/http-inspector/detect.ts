/**
 * What http_inspector recognises at the start of a plaintext connection: the HTTP/2 connection
 * preface (RFC 9113 §3.4, prior knowledge: 'h2c') or an HTTP/1.x request line (RFC 9112 §3:
 * method SP request-target SP HTTP-version CRLF: 'http/1.0' or 'http/1.1').
 */

/** Envoy's limit: bytes looked at before giving up. */
export const MAX_INSPECT_BYTES = 64 * 1024;

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+ HTTP\/1\.([01])$/;
/** tchar (RFC 9110 §5.6.2): what a method, and so a request, starts with. */
const TOKEN_START = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** The protocol, '' when it is not HTTP, or null when more bytes are needed. */
export function detectHttp(data: Buffer): 'h2c' | 'http/1.0' | 'http/1.1' | '' | null {
  const n = Math.min(data.length, H2_PREFACE.length);
  if (data.compare(H2_PREFACE, 0, n, 0, n) === 0) return data.length >= H2_PREFACE.length ? 'h2c' : null;
  if (!TOKEN_START.test(data.toString('latin1', 0, 1))) return '';
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end === -1) return data.length >= MAX_INSPECT_BYTES ? '' : null;
  const line = REQUEST_LINE.exec(data.toString('latin1', 0, end));
  if (line === null) return '';
  return line[1] === '0' ? 'http/1.0' : 'http/1.1';
}
