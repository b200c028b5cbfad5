/**
 * Differential comparison: the same cells through two proxies, compared on what a client and the
 * origin can observe (status, body bytes, 1xx, trailers, framing after normalisation, connection
 * reuse on both sides). A field either proxy declared an intended difference for is not compared.
 */
import { type CellOutcome, type ComparedField, type ExchangeSummary, type MatrixExpected } from './run';

/** What is compared, and which expectation fields (of an intended difference) cover each. */
const COMPARED: { field: ComparedField; coveredBy: (keyof MatrixExpected)[] }[] = [
  { field: 'exchanges', coveredBy: ['closesPipelinedConnection'] },
  { field: 'status', coveredBy: ['status', 'closesPipelinedConnection'] },
  { field: 'body', coveredBy: ['body', 'closesPipelinedConnection'] },
  { field: '1xx', coveredBy: ['informational', 'closesPipelinedConnection'] },
  { field: 'trailers', coveredBy: ['trailers', 'closesPipelinedConnection'] },
  { field: 'framing', coveredBy: ['closesPipelinedConnection'] },
  { field: 'upstream connections', coveredBy: ['upstreamReused', 'closesPipelinedConnection'] },
  { field: 'downstream connections', coveredBy: ['downstreamReused', 'closesPipelinedConnection'] },
];

/**
 * The framing a client relies on, normalised: how the body is delimited and whether the proxy
 * ends the connection. `connection: keep-alive` (nginx sends it, Legate does not) means nothing to
 * an HTTP/1.1 client and is ignored.
 */
function framing(e: ExchangeSummary): string {
  const closes = /(^|,)\s*close\s*(,|$)/i.test(e.connectionHeader ?? '');
  const length = e.framing === 'length' ? `length ${e.contentLength}` : (e.framing ?? 'none');
  return closes ? `${length}, close` : length;
}

function exchangeFields(
  e: ExchangeSummary,
): Record<'status' | 'body' | '1xx' | 'trailers' | 'framing', string> {
  return {
    status: e.error ?? String(e.status),
    body: `${e.bodyLength} B ${e.bodySha256.slice(0, 12)}`,
    '1xx': `[${e.informational.join(',')}]`,
    trailers: JSON.stringify(e.trailers),
    framing: framing(e),
  };
}

/** Fields where `a` and `b` observed different things in the same cell, minus intended differences. */
export function disagreements(a: CellOutcome, b: CellOutcome): string[] {
  const skipped = new Set<ComparedField>();
  for (const difference of [a.difference, b.difference]) {
    if (difference === null) continue;
    const keys = Object.keys(difference.expected) as (keyof MatrixExpected)[];
    for (const { field, coveredBy } of COMPARED)
      if (coveredBy.some((k) => keys.includes(k))) skipped.add(field);
    for (const field of difference.differsIn ?? []) skipped.add(field);
  }
  const out: string[] = [];
  const compare = (field: ComparedField, where: string, x: string, y: string): void => {
    if (!skipped.has(field) && x !== y) out.push(`${where}${field}: ${x} ≠ ${y}`);
  };
  const ea = a.observation.exchanges;
  const eb = b.observation.exchanges;
  compare('exchanges', '', `${ea.length} exchanges`, `${eb.length} exchanges`);
  for (let i = 0; i < Math.min(ea.length, eb.length); i++) {
    const fa = exchangeFields(ea[i]!);
    const fb = exchangeFields(eb[i]!);
    for (const field of Object.keys(fa) as (keyof typeof fa)[])
      compare(field, `r${i} `, fa[field], fb[field]);
  }
  compare(
    'upstream connections',
    '',
    String(a.observation.upstreamConnections),
    String(b.observation.upstreamConnections),
  );
  compare(
    'downstream connections',
    '',
    String(a.observation.downstreamConnections),
    String(b.observation.downstreamConnections),
  );
  return out;
}
