/** Router tests on the in-process filter harness: configs and expectations shared by the files. */
import { catchAllYaml } from '../../integration/harness';
import { FilterHarness, type HarnessOptions } from '../harness/filter-harness';
import type { FakeUpstreamStream, ResponseShape } from '../harness/fake-upstream';

/** Two endpoints (no socket is opened: the harness's pools are fake). */
export const ENDPOINTS = [10001, 10002];

const ROUTER_TYPE = '"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/**
 * A harness whose catch-all route to cluster `o` has `routeExtra` (route action YAML lines);
 * `routerConfig` adds one line to the router filter's typed_config.
 */
export function routerHarness(
  routeExtra = '',
  opts: HarnessOptions & { clusterExtra?: string; hcmExtra?: string; routerConfig?: string } = {},
): FilterHarness {
  let yaml = catchAllYaml(ENDPOINTS, {
    routeExtra,
    clusterExtra: opts.clusterExtra,
    hcmExtra: opts.hcmExtra,
  });
  if (opts.routerConfig !== undefined) {
    yaml = yaml.replace(ROUTER_TYPE, `${ROUTER_TYPE}\n              ${opts.routerConfig}`);
  }
  return FilterHarness.create(yaml, opts);
}

/** The retry policy YAML for a route (num_retries 1 unless `fields` sets it). */
export function retryPolicy(retryOn: string, fields = ''): string {
  const all = [
    `retry_on: "${retryOn}"`,
    ...(fields.includes('num_retries') ? [] : ['num_retries: 1']),
    fields,
  ];
  return `retry_policy: { ${all.filter((f) => f !== '').join(', ')} }`;
}

/**
 * Runs `body` with a fresh harness and always closes it; returns what `body` returns. Keeps each
 * matrix cell independent of the last (stats, breakers, timers).
 */
export function withHarness<T>(h: FilterHarness, body: (h: FilterHarness) => T): T {
  try {
    return body(h);
  } finally {
    h.close();
  }
}

/** The upstream's response shapes the matrices run through (framing as the upstream codec delivers it). */
export const RESPONSE_SHAPES: Record<string, (status: number) => ResponseShape> = {
  'content-length body': (status) => ({ status, body: 'oops' }),
  'content-length: 0': (status) => ({ status }),
  'chunked body': (status) => ({ status, body: 'oops', framing: 'chunked' }),
  'chunked, empty': (status) => ({ status, framing: 'chunked' }),
  'chunked with trailers': (status) => ({
    status,
    body: 'oops',
    framing: 'chunked',
    trailers: { 'x-t': '1' },
  }),
  'close-delimited': (status) => ({ status, body: 'oops', framing: 'close' }),
};

/** What the client must receive when `shape` is relayed: status, exact body bytes, trailers. */
export function expectedRelay(
  shape: ResponseShape,
  method: string,
): { status: number; body: string; contentLength: number; trailers: string | null } {
  const bodiless = method === 'HEAD' || shape.status === 204 || shape.status === 304;
  const body = bodiless ? '' : String(shape.body ?? '');
  const framing = shape.framing ?? 'content-length';
  // The codec is told the upstream's Content-Length (HEAD, 204 and 304 keep theirs), else "unknown".
  const contentLength = framing === 'content-length' ? Buffer.byteLength(String(shape.body ?? '')) : -1;
  const trailers =
    !bodiless && framing === 'chunked' && shape.trailers !== undefined
      ? JSON.stringify(shape.trailers)
      : null;
  return { status: shape.status, body, contentLength, trailers };
}

/**
 * What must hold once a request is over, whatever happened: no timer left armed, no upstream
 * request counted active, every upstream stream finished (complete, reset, cancelled or failed).
 * Returns the violations.
 */
export function settledViolations(h: FilterHarness): string[] {
  const out: string[] = [];
  if (h.time.timers.size !== 0) out.push(`${h.time.timers.size} timers still armed`);
  const active = h.stat('cluster.o.upstream_rq_active');
  if (active !== 0) out.push(`upstream_rq_active ${active}`);
  const open = h.upstreams.streams.filter(
    (s: FakeUpstreamStream) => s.state === 'pending' || s.state === 'attached',
  );
  if (open.length > 0)
    out.push(`${open.length} upstream streams left ${open.map((s) => s.state).join(', ')}`);
  return out;
}
