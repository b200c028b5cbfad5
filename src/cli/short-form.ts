/**
 * The short command line form: `legate --listen 0.0.0.0:10000 --upstream 127.0.0.1:8080 …` builds
 * the equivalent Envoy v3 bootstrap (one HTTP listener, one STATIC cluster, one catch-all route), so
 * nginx users get a proxy without YAML, and `--print-config` shows them the Envoy config it means.
 */
export interface ShortFormOptions {
  listen: string;
  upstreams: string[];
  lb: string;
  admin: string | null;
}

export const SHORT_FORM_LB = ['round_robin', 'least_request', 'random'] as const;

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). Throws with a usable message. */
export function parseHostPort(flag: string, value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new Error(`${flag}: expected HOST:PORT (e.g. 127.0.0.1:8080), got '${value}'`);
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port };
}

export function buildShortFormBootstrap(o: ShortFormOptions): Record<string, unknown> {
  const listen = parseHostPort('--listen', o.listen);
  if (o.upstreams.length === 0) throw new Error('--listen needs at least one --upstream HOST:PORT');
  const upstreams = o.upstreams.map((u) => parseHostPort('--upstream', u));
  if (!(SHORT_FORM_LB as readonly string[]).includes(o.lb)) {
    throw new Error(`--lb: expected one of ${SHORT_FORM_LB.join(', ')}, got '${o.lb}'`);
  }
  const bootstrap: Record<string, unknown> = {
    static_resources: {
      listeners: [
        {
          name: 'listener_0',
          address: { socket_address: { address: listen.host, port_value: listen.port } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress_http',
                    route_config: {
                      name: 'local_route',
                      virtual_hosts: [
                        {
                          name: 'backend',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'backend',
          type: upstreams.some((u) => !isIpLiteral(u.host)) ? 'STRICT_DNS' : 'STATIC',
          connect_timeout: '5s',
          lb_policy: o.lb.toUpperCase(),
          load_assignment: {
            cluster_name: 'backend',
            endpoints: [
              {
                lb_endpoints: upstreams.map((u) => ({
                  endpoint: { address: { socket_address: { address: u.host, port_value: u.port } } },
                })),
              },
            ],
          },
        },
      ],
    },
  };
  if (o.admin !== null) {
    const a = parseHostPort('--admin', o.admin);
    bootstrap.admin = { address: { socket_address: { address: a.host, port_value: a.port } } };
  }
  return bootstrap;
}

function isIpLiteral(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');
}
