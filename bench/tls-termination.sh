#!/usr/bin/env bash
# HTTPS termination: Legate (TLS listener → HCM → plaintext origin) against nginx doing the same
# (ssl listener, proxy_pass with upstream keepalive), same certificate (test/fixtures/tls,
# RSA 2048), one worker each, an origin nginx of its own answering 13 B. wrk -t1 -c50, TLS 1.3:
#   keep-alive requests per second, and new TLS connections per second (Connection: close: one
#   full handshake per request);
# Legate twice: TLS terminated by the native engine (`legate`) and on Node's TLS with the JS codec
# (`legate-js`, LEGATE_ENGINE=js). For each proxy, the user and kernel CPU it spent per request,
# read from /proc/PID/stat around the run (nginx: its worker; Legate: the whole process).
# Usage: npm run build && bench/tls-termination.sh [seconds per run, default 5]
set -euo pipefail
SECS=${1:-5}
# shellcheck source=bench/tls-script-setup.sh
source "$(dirname "$0")/tls-script-setup.sh"
ORIGIN=$(free_port); NGINX=$(free_port); LEGATE=$(free_port); LEGATE_JS=$(free_port)
mkdir -p "$WORK/logs"
nginx_conf() { # name, server block
  cat > "$WORK/$1.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/$1.pid; error_log $WORK/logs/$1.log;
events { worker_connections 4096; }
http { access_log off; $2 }
CONF
}
nginx_conf origin "server { listen 127.0.0.1:$ORIGIN; location / { return 200 \"hello world!\n\"; } }"
nginx_conf proxy "upstream origin { server 127.0.0.1:$ORIGIN; keepalive 64; }
  server { listen 127.0.0.1:$NGINX ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERTS/server-rsa.crt; ssl_certificate_key $CERTS/server-rsa.key;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
nginx -c "$WORK/origin.conf" -p "$WORK" &
PIDS+=($!)
nginx -c "$WORK/proxy.conf" -p "$WORK" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
legate_yaml() { # port
  cat <<YAML
static_resources:
  listeners:
  - name: https
    address: { socket_address: { address: 127.0.0.1, port_value: $1 } }
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
}
legate_yaml "$LEGATE" > "$WORK/legate.yaml"
legate_yaml "$LEGATE_JS" > "$WORK/legate-js.yaml"
node bin/legate.js -c "$WORK/legate.yaml" --concurrency 1 -l warn &
LEGATE_PID=$!
PIDS+=("$LEGATE_PID")
LEGATE_ENGINE=js node bin/legate.js -c "$WORK/legate-js.yaml" --concurrency 1 -l warn &
LEGATE_JS_PID=$!
PIDS+=("$LEGATE_JS_PID")
sleep 2
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
# utime and stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# name, port, pid, wrk args...: requests/s, then user and kernel µs per request.
run() {
  local name=$1 port=$2 pid=$3; shift 3
  local before after out rps reqs
  before=$(cpu "$pid")
  out=$(wrk -t1 -c50 -d"${SECS}s" "$@" "https://127.0.0.1:$port/")
  after=$(cpu "$pid")
  rps=$(sed -n 's/^Requests\/sec: *//p' <<<"$out")
  reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
  awk -v b="$before" -v a="$after" -v n="$reqs" -v hz="$HZ" -v rps="$rps" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    printf "%s req/s, %.1f µs user + %.1f µs kernel per request", rps, (y[1]-x[1])*1e6/hz/n, (y[2]-x[2])*1e6/hz/n }'
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for target in "nginx:$NGINX:$NGINX_WORKER" "legate:$LEGATE:$LEGATE_PID" "legate-js:$LEGATE_JS:$LEGATE_JS_PID"; do
  IFS=: read -r name port pid <<<"$target"
  echo "$name keep-alive: $(run "$name" "$port" "$pid")"
  echo "$name new TLS connection per request: $(run "$name" "$port" "$pid" -H 'Connection: close')"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
