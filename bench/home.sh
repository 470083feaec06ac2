#!/usr/bin/env bash
# The home page of `candour demo` under wrk, beside nginx serving a static file of the same
# size on the same machine in the same run. Prints both rates, their ratio, the binary's
# size and the server's idle memory. Loopback only; each load run is bounded in time.
#   DURATION=10 CONNECTIONS=64 [BIN=…] bench/home.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx-light

# BIN=path/to/candour skips the build (to measure a binary built elsewhere).
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p candour
  BIN="${CARGO_TARGET_DIR:-target}/release/candour"
fi
bin=$BIN

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
rate() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }

cport=$(free_port)
RUST_LOG=warn "$bin" demo --listen "127.0.0.1:$cport" >/dev/null 2>&1 &
cpid=$!; pids+=("$cpid")
wait_for "http://127.0.0.1:$cport/readyz"
sleep 1
idle_kib=$(ps -o rss= -p "$cpid" | tr -d ' ')

# nginx workers run as an unprivileged user: they must be able to read the file.
chmod 755 "$work"
mkdir -p "$work/www"
curl -fs "http://127.0.0.1:$cport/" >"$work/www/index.html"
bytes=$(wc -c <"$work/www/index.html")

nport=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nport;
    root $work/www;
    location = / { default_type text/html; try_files /index.html =404; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" &
pids+=("$!")
wait_for "http://127.0.0.1:$nport/"

nginx_rps=$(rate "http://127.0.0.1:$nport/")
candour_rps=$(rate "http://127.0.0.1:$cport/")
busy_kib=$(ps -o rss= -p "$cpid" | tr -d ' ')

echo "home page: $bytes bytes; wrk -t2 -c$CONNECTIONS -d${DURATION}s"
echo "nginx (static file)           : $nginx_rps requests/s"
echo "candour demo home page:        $candour_rps requests/s"
awk -v c="$candour_rps" -v n="$nginx_rps" 'BEGIN { printf "ratio candour/nginx:           %.2f\n", c / n }'
echo "binary size: $(stat -c %s "$bin") bytes"
echo "candour RSS: idle $idle_kib KiB, after the load $busy_kib KiB"
