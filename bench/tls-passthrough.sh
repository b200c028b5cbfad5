#!/usr/bin/env bash
# TLS passthrough by SNI (tls_inspector + server_names + tcp_proxy), measured against HAProxy
# `mode tcp` routing on `req.ssl_sni` and against the origin reached directly. The origin is nginx
# terminating TLS (the test certificates of test/fixtures/tls), 1 worker; every proxy gets 1 thread.
#   new TLS connections per second: h2load --h1, one request per connection (full TLS 1.3
#   handshakes: every client is new), N connections of which C are open at once
#   throughput: curl downloading a 1 GiB file over HTTPS (one connection)
# Usage: npm run build && bench/tls-passthrough.sh [connections, default 3000] [concurrency, default 50]
set -euo pipefail
CONNS=${1:-3000}
CONC=${2:-50}
# shellcheck source=bench/tls-script-setup.sh
source "$(dirname "$0")/tls-script-setup.sh"
ORIGIN=$(free_port); LEGATE=$(free_port); HAPROXY=$(free_port)
head -c 1073741824 /dev/zero > "$WORK/1g"
mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/logs/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on;
  server { listen 127.0.0.1:$ORIGIN ssl; server_name a.example;
    ssl_certificate $CERTS/server-rsa.crt; ssl_certificate_key $CERTS/server-rsa.key;
    ssl_session_cache off; ssl_session_tickets off; root $WORK; location = / { return 200 ok; } } }
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
cat > "$WORK/legate.yaml" <<YAML
static_resources:
  listeners:
  - name: pass
    address: { socket_address: { address: 127.0.0.1, port_value: $LEGATE } }
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector }
    filter_chains:
    - filter_chain_match: { server_names: [a.example] }
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: pass
          cluster: origin
  clusters:
  - name: origin
    load_assignment:
      cluster_name: origin
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $ORIGIN } } } }] }]
YAML
node bin/legate.js -c "$WORK/legate.yaml" --concurrency 1 -l warn &
PIDS+=($!)
cat > "$WORK/haproxy.cfg" <<CFG
global
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend pass
  bind 127.0.0.1:$HAPROXY
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend origin if { req.ssl_sni -i a.example }
backend origin
  server o 127.0.0.1:$ORIGIN
CFG
haproxy -f "$WORK/haproxy.cfg" &
PIDS+=($!)
sleep 2
for target in "direct:$ORIGIN" "legate:$LEGATE" "haproxy:$HAPROXY"; do
  name=${target%%:*}; port=${target##*:}
  # Each of CONC clients opens CONNS/CONC connections one after another (-n requests, 1 per connection).
  rate=$(h2load --h1 -t 1 -c "$CONC" -n "$CONNS" -H 'connection: close' --connect-to="127.0.0.1:$port" \
    "https://a.example:$port/" 2>&1 | sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
  bytes_per_s=$(curl -s -o /dev/null --cacert "$CERTS/ca.crt" --resolve "a.example:$port:127.0.0.1" \
    -w '%{speed_download}' "https://a.example:$port/1g")
  gbit=$(awk -v b="$bytes_per_s" 'BEGIN { printf "%.2f", b * 8 / 1e9 }')
  echo "$name: $rate new TLS connections/s (h2load), $gbit Gbit/s (curl, 1 GiB over HTTPS)"
done
