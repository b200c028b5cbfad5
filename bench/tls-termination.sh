#!/usr/bin/env bash
# HTTPS termination: Legate (TLS listener → HCM → plaintext origin) against nginx doing the same
# (ssl listener, proxy_pass with upstream keepalive), same certificate (test/fixtures/tls,
# RSA 2048), one worker each, origin nginx answering 13 B. wrk -t1 -c50, TLS 1.3:
#   keep-alive requests per second, and new TLS connections per second (Connection: close: one
#   full handshake per request).
# Usage: npm run build && bench/tls-termination.sh [seconds per run, default 5]
set -euo pipefail
SECS=${1:-5}
# shellcheck source=bench/tls-script-setup.sh
source "$(dirname "$0")/tls-script-setup.sh"
ORIGIN=$(free_port); NGINX=$(free_port); LEGATE=$(free_port)
mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/logs/error.log;
events { worker_connections 4096; }
http { access_log off;
  upstream origin { server 127.0.0.1:$ORIGIN; keepalive 64; }
  server { listen 127.0.0.1:$ORIGIN; location / { return 200 "hello world!\n"; } }
  server { listen 127.0.0.1:$NGINX ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERTS/server-rsa.crt; ssl_certificate_key $CERTS/server-rsa.key;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
cat > "$WORK/legate.yaml" <<YAML
static_resources:
  listeners:
  - name: https
    address: { socket_address: { address: 127.0.0.1, port_value: $LEGATE } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificates:
            - certificate_chain: { filename: $CERTS/server-rsa.crt }
              private_key: { filename: $CERTS/server-rsa.key }
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: https
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: origin } }] }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: origin
    load_assignment:
      cluster_name: origin
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $ORIGIN } } } }] }]
YAML
node bin/legate.js -c "$WORK/legate.yaml" --concurrency 1 -l warn &
PIDS+=($!)
sleep 2
for target in "nginx:$NGINX" "legate:$LEGATE"; do
  name=${target%%:*}; port=${target##*:}
  keepalive=$(wrk -t1 -c50 -d"${SECS}s" "https://127.0.0.1:$port/" | sed -n 's/^Requests\/sec: *//p')
  fresh=$(wrk -t1 -c50 -d"${SECS}s" -H 'Connection: close' "https://127.0.0.1:$port/" | sed -n 's/^Requests\/sec: *//p')
  echo "$name: $keepalive req/s keep-alive, $fresh new TLS connections/s"
done
