#!/usr/bin/env bash
# Downstream HTTP/2 (h2c, prior knowledge) to an HTTP/1.1 keep-alive origin: Legate
# (codec_type HTTP2, node:http2, one worker) against nginx (`listen … http2`: nginx 1.22 has no
# `http2 on;`, one worker, proxy_pass with upstream keepalive). The origin is a separate nginx
# answering 13 B, so each proxy's CPU is its own. h2load -c50 -m10 (50 connections × 10 streams):
# requests per second, and the proxy's user / system CPU µs per request from /proc/PID/stat.
# Usage: npm run build && bench/h2-downstream.sh [requests per run, default 200000] [runs, default 3]
set -euo pipefail
REQUESTS=${1:-200000}
RUNS=${2:-3}
# shellcheck source=bench/tls-script-setup.sh
source "$(dirname "$0")/tls-script-setup.sh"
ORIGIN=$(free_port); NGINX=$(free_port); LEGATE=$(free_port)
mkdir -p "$WORK/origin/logs" "$WORK/proxy/logs"
cat > "$WORK/origin.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/origin/nginx.pid; error_log $WORK/origin/logs/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$ORIGIN; location / { return 200 "hello world!\n"; } } }
CONF
cat > "$WORK/proxy.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/proxy/nginx.pid; error_log $WORK/proxy/logs/error.log;
events { worker_connections 4096; }
http { access_log off;
  upstream origin { server 127.0.0.1:$ORIGIN; keepalive 64; keepalive_requests 1000000; }
  server { listen 127.0.0.1:$NGINX http2; http2_max_concurrent_streams 128; keepalive_requests 1000000;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
nginx -c "$WORK/origin.conf" -p "$WORK/origin" &
PIDS+=($!)
nginx -c "$WORK/proxy.conf" -p "$WORK/proxy" &
PIDS+=($!)
cat > "$WORK/legate.yaml" <<YAML
static_resources:
  listeners:
  - name: h2c
    address: { socket_address: { address: 127.0.0.1, port_value: $LEGATE } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: h2c
          codec_type: HTTP2
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
LEGATE_PID=$!
PIDS+=($LEGATE_PID)
sleep 2
# nginx's worker: the child of the proxy's master.
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/proxy/nginx.pid")")
TICKS=$(getconf CLK_TCK)
cpu() { awk '{ print $14, $15 }' "/proc/$1/stat"; } # utime stime, in ticks (all threads)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  for target in "nginx:$NGINX:$NGINX_WORKER" "legate:$LEGATE:$LEGATE_PID"; do
    IFS=: read -r name port pid <<<"$target"
    read -r u0 s0 < <(cpu "$pid")
    out=$(h2load -n "$REQUESTS" -c 50 -m 10 "http://127.0.0.1:$port/")
    read -r u1 s1 < <(cpu "$pid")
    rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
    awk -v n="$name" -v r="$run" -v rps="$rps" -v ok="$ok" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v t="$TICKS" \
      -v req="$REQUESTS" 'BEGIN { printf "run %s %-6s %9.0f req/s  %d ok  user %.1f µs  sys %.1f µs per request\n",
        r, n, rps, ok, u * 1e6 / t / req, s * 1e6 / t / req }'
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
