/**
 * Builds the one request a run sends, once, as bytes: the generator then writes the same immutable
 * Buffer for every request (no per-request encoding or allocation).
 */
import type { BenchOptions } from './options';

export function buildRequestBytes(
  o: Pick<BenchOptions, 'method' | 'target' | 'headers' | 'body' | 'http1Close'>,
): Buffer {
  const lines = [`${o.method} ${o.target.path} HTTP/1.1`];
  const userSet = new Set(o.headers.map((h) => h.slice(0, h.indexOf(':')).toLowerCase()));
  if (!userSet.has('host')) lines.push(`Host: ${o.target.hostHeader}`);
  lines.push(...o.headers);
  if (o.body.length > 0 || (o.method !== 'GET' && o.method !== 'HEAD')) {
    if (!userSet.has('content-length')) lines.push(`Content-Length: ${o.body.length}`);
  }
  if (o.http1Close && !userSet.has('connection')) lines.push('Connection: close');
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return o.body.length > 0 ? Buffer.concat([head, o.body]) : head;
}

/** `count` copies of `request` back to back: one write sends a pipelined batch. */
export function repeatRequest(request: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => request));
}
