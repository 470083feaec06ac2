#!/usr/bin/env bash
# The home page of `candour demo` under wrk, beside nginx serving a static file of the same
# bytes on the same machine in the same run. The machine's speed drifts, so each round runs
# nginx and then Candour straight after it, and the result is the median of the rounds'
# ratios with the spread (lowest and highest round). Also prints the binary's size and the
# server's idle memory. Loopback only; each load run is bounded in time.
# Statistics are on, as by default: every page is counted. EXTRA_ENV=CANDOUR_STATS__ENABLED=false
# measures without counting.
#   ROUNDS=5 DURATION=10 CONNECTIONS=64 [BIN=…] [EXTRA_ENV="CANDOUR_X=…"] bench/home.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-5}
source bench/lib.sh

need wrk wrk
need nginx nginx-light
release_bin

# A browser's user agent, as visitors send (statistics, on by default, leave bots uncounted).
AGENT="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
rate() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -H "User-Agent: $AGENT" "$1" | awk '/Requests\/sec/ {print $2}'; }

cport=$(free_port)
# EXTRA_ENV: configuration for this run (say, a section switched on), as CANDOUR_ variables.
# shellcheck disable=SC2086
env RUST_LOG=warn ${EXTRA_ENV:-} "$BIN" demo --listen "127.0.0.1:$cport" >"$work/candour.out" 2>&1 &
cpid=$!; pids+=("$cpid")
wait_for "http://127.0.0.1:$cport/readyz"
sleep 1
idle_kib=$(ps -o rss= -p "$cpid" | tr -d ' ')

mkdir -p "$work/www"
curl -fs "http://127.0.0.1:$cport/" >"$work/www/index.html"
bytes=$(wc -c <"$work/www/index.html")

nport=$(free_port)
start_nginx "$nport" "root $work/www;
    location = / { default_type text/html; try_files /index.html =404; }"
wait_for "http://127.0.0.1:$nport/"

echo "home page: $bytes bytes; wrk -t2 -c$CONNECTIONS -d${DURATION}s; $ROUNDS rounds"
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  nginx_rps=$(rate "http://127.0.0.1:$nport/")
  candour_rps=$(rate "http://127.0.0.1:$cport/")
  ratio=$(awk -v c="$candour_rps" -v n="$nginx_rps" 'BEGIN { printf "%.2f", c / n }')
  ratios+=("$ratio")
  echo "round $round: nginx (static file) $nginx_rps requests/s; candour $candour_rps requests/s; ratio $ratio"
done
busy_kib=$(ps -o rss= -p "$cpid" | tr -d ' ')
echo "ratio candour/nginx: median $(printf '%s\n' "${ratios[@]}" | median), spread $(spread "${ratios[@]}")"
echo "binary size: $(stat -c %s "$BIN") bytes"
echo "candour RSS: idle $idle_kib KiB, after the load $busy_kib KiB"
machine_note
