/** The one Transfer-Encoding both HTTP/1 codecs understand. */

/**
 * Checks a message's (comma-joined) Transfer-Encoding: exactly `chunked` is accepted; empty or
 * repeated items → 400; any other coding → 501 (nginx's and Envoy's answers to a request; Envoy's
 * HTTP/1 codec refuses a response with another coding too, as a protocol error).
 */
export function transferEncodingStatus(value: string): number {
  const items = value.split(',');
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!.trim().toLowerCase();
    if (item === '') return 400;
    for (let j = 0; j < i; j++) if (items[j]!.trim().toLowerCase() === item) return 400;
  }
  return items.length === 1 && items[0]!.trim().toLowerCase() === 'chunked' ? 0 : 501;
}
