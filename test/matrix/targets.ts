/**
 * The proxies the matrix runs against, each with its intended differences (a documented limit
 * or a choice, with the reason) from the common expectation in `shapes.ts`.
 *
 * Legate variants are the product of three dimensions: downstream codec (`legate`, `uws`), native
 * addon (on, off: `LEGATE_NATIVE=0`) and data-plane engine. A new engine is one more entry in
 * `ENGINES` (how to select it: env and CLI args for the `legate` process), not a copy of the suite.
 */
import { httpProxyYaml, staticCluster, startLegate } from '../integration/harness';
import { startNginx } from '../support/nginx';
import type { Cell, IntendedDifference, ProxyTarget, RunningProxy } from './run';

/** Route timeout: above the matrix's per-request bound, so a hang fails as slowness, not as a 504. */
export const ROUTE_TIMEOUT_S = 5;

export type Codec = 'legate' | 'uws';

export interface Engine {
  name: string;
  /** Environment and CLI arguments that select this engine in the `legate` process. */
  env: Record<string, string>;
  args: string[];
  /** Whether the engine can serve a listener with this codec and addon setting. */
  serves(codec: Codec, native: boolean): boolean;
}

/**
 * Data-plane engines the matrix covers: the native HTTP engine (the default where the addon runs;
 * the Legate codec only) and Node's sockets. Each is selected explicitly, so CI's
 * `LEGATE_ENGINE=js` pass does not turn the native one's cells into copies of the JS ones.
 */
export const ENGINES: Engine[] = [
  {
    name: 'native engine',
    env: { LEGATE_ENGINE: 'native' },
    args: [],
    serves: (codec, native) => native && codec === 'legate',
  },
  { name: 'js engine', env: { LEGATE_ENGINE: 'js' }, args: [], serves: () => true },
];

export interface LegateVariant {
  codec: Codec;
  native: boolean;
  engine: Engine;
}

/**
 * The native settings this test process covers: both, except in the pure-JS pass
 * (`LEGATE_NATIVE=0 npm test`), where the addon is off for everything.
 */
export function nativeSettings(): boolean[] {
  return process.env.LEGATE_NATIVE === '0' ? [false] : [true, false];
}

/** Every Legate variant: codec × native × engine, where the engine serves that combination. */
export function legateVariants(): LegateVariant[] {
  const variants: LegateVariant[] = [];
  for (const engine of ENGINES)
    for (const native of nativeSettings())
      for (const codec of ['legate', 'uws'] as const)
        if (engine.serves(codec, native)) variants.push({ codec, native, engine });
  return variants;
}

export function variantName(v: LegateVariant): string {
  return `${v.codec} codec, native ${v.native ? 'on' : 'off'}${ENGINES.length > 1 ? `, ${v.engine.name}` : ''}`;
}

function legateYaml(originPorts: number[]): string {
  const routes = originPorts
    .map(
      (_, i) =>
        `  - match: { prefix: "/c${i}/" }\n    route: { cluster: c${i}, timeout: ${ROUTE_TIMEOUT_S}s }`,
    )
    .join('\n');
  return httpProxyYaml({
    virtualHosts: `- name: matrix\n  domains: ["*"]\n  routes:\n${routes}`,
    clusters: originPorts.map((port, i) => staticCluster(`c${i}`, [port])).join('\n'),
  });
}

export function legateTarget(variant: LegateVariant): ProxyTarget {
  return {
    name: variantName(variant),
    async start(originPorts: number[]): Promise<RunningProxy> {
      const lp = await startLegate(legateYaml(originPorts), {
        concurrency: 2,
        args: ['--http1-codec', variant.codec, ...variant.engine.args],
        env: { LEGATE_NATIVE: variant.native ? '1' : '0', ...variant.engine.env },
      });
      return {
        port: lp.ports.get('proxy')!,
        stop: async () => {
          await lp.stop();
        },
      };
    },
    difference: (cell) =>
      combine([legateDifference(cell), variant.codec === 'uws' ? uwsDifference(cell) : null]),
  };
}

/** Choices of Legate itself, whatever the codec. */
function legateDifference(cell: Cell): IntendedDifference | null {
  if (cell.shape.feature === 'informational' && !cell.shape.expected.informational.includes(100)) {
    return {
      reasons: [
        'Legate forwards 100 Continue but no other 1xx, as Envoy does for 103 (envoyproxy/envoy#25881); ' +
          'RFC 9110 §15.2 asks a proxy to forward them',
      ],
      expected: { informational: [] },
    };
  }
  return null;
}

/** The uWS codec's documented limits (README, "uWS codec limits"), as they show in the matrix. */
function uwsDifference(cell: Cell): IntendedDifference | null {
  const differences: (IntendedDifference | null)[] = [];
  if (cell.peer === 'pipeline') {
    differences.push({
      reasons: ['uWS closes a connection that pipelines a request behind one answered asynchronously'],
      expected: { closesPipelinedConnection: true },
    });
  }
  switch (cell.shape.feature) {
    case 'trailers':
      differences.push({ reasons: ['uWS drops response trailers'], expected: { trailers: () => [] } });
      break;
    case 'informational':
      differences.push({ reasons: ['uWS does not forward 1xx responses'], expected: { informational: [] } });
      break;
    case 'expect-refused':
      differences.push({
        reasons: [
          'uWS answers Expect: 100-continue itself before the proxy decides, so the client sends the body ' +
            'and keeps its connection; the upstream connection survives when the whole body went up before ' +
            "the origin's early answer",
        ],
        expected: { informational: [100], downstreamReused: true, upstreamReused: 'either' },
      });
      break;
  }
  return combine(differences);
}

/** One difference from several (reasons listed, expectations merged in order), or null if none. */
function combine(differences: (IntendedDifference | null)[]): IntendedDifference | null {
  const present = differences.filter((d): d is IntendedDifference => d !== null);
  if (present.length === 0) return null;
  return {
    reasons: present.flatMap((d) => d.reasons),
    expected: Object.assign({}, ...present.map((d) => d.expected)),
  };
}
/** nginx (Debian's) in front of the same origins: HTTP/1.1 and keep-alive to the upstream. */
export function nginxTarget(nginxPath: string): ProxyTarget {
  return {
    name: 'nginx',
    async start(originPorts: number[]): Promise<RunningProxy> {
      const upstreams = originPorts
        .map((port, i) => `    upstream c${i} { server 127.0.0.1:${port}; keepalive 4; }`)
        .join('\n');
      const locations = originPorts
        .map((_, i) => `        location /c${i}/ { proxy_pass http://c${i}; }`)
        .join('\n');
      const nginx = await startNginx(
        nginxPath,
        `${upstreams}
    server {
        listen 127.0.0.1:{{PORT}};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_read_timeout ${ROUTE_TIMEOUT_S}s;
${locations}
    }`,
      );
      return { port: nginx.port, stop: () => nginx.stop() };
    },
    difference: nginxDifference,
    unsupported: (cell) =>
      cell.shape.feature === 'informational'
        ? 'nginx 1.22 takes an upstream 1xx for the final response: the client gets a bare 1xx and the ' +
          'connection then waits for a body until proxy_read_timeout'
        : null,
  };
}

function nginxDifference(cell: Cell): IntendedDifference | null {
  switch (cell.shape.feature) {
    case 'trailers':
      return {
        reasons: ["nginx's proxy module does not pass upstream trailers to the client"],
        expected: { trailers: () => [] },
      };
    case 'expect-refused':
      return {
        reasons: [
          'nginx answers Expect: 100-continue itself and reads the whole body before it contacts the ' +
            'upstream (proxy_request_buffering), so the origin sees complete requests on one connection',
        ],
        expected: {
          informational: [100],
          downstreamReused: true,
          upstreamReused: true,
          originReadsBody: true,
        },
      };
    default:
      return null;
  }
}
