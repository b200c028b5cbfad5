/**
 * The fields that describe one hop of a connection and are never forwarded (RFC 9110 §7.6.1, with
 * the legacy `proxy-connection`); the same fields HTTP/2 forbids in a message (RFC 9113 §8.2.2).
 */
export const HOP_BY_HOP_FIELDS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
];
