#!/usr/bin/env bash
# The statistics beacon (POST /statistics/hit, as /statistics/s.js sends it from another of
# the organisation's sites) under wrk on SQLite, beside nginx answering 204 to the same POST
# on the same machine in the same run: ROUNDS rounds of nginx then Candour, the median ratio
# with its spread. Each request is a page view from a different visitor: Candour sits behind
# a proxy on 127.0.0.1 (`[http] trusted_proxies`), as the README deploys it, and each request
# carries its own address in X-Forwarded-For, with one of twenty browsers' user agents
# (AGENTS=unique sends a user agent never seen before with each instead, the worst case for
# reading them; see bench/ingest.lua). Afterwards every accepted hit (a 204 that wrk saw)
# must be counted: the page views in the daily totals plus the hits still waiting to be
# folded. The disk's durable single-row commits per second are printed beside, as in
# bench/votes.sh. A round lasts 30 seconds by default: the server folds every ten, and a
# shorter round would time the recording without the folding beside it.
#   ROUNDS=5 DURATION=30 CONNECTIONS=64 [AGENTS=unique] [BIN=…] bench/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-5}
source bench/lib.sh
need wrk wrk
need nginx nginx-light
need sqlite3 sqlite3
release_bin

# One load run against $1; prints "rate accepted refused", the rate being answers that
# accepted the hit (204) per second: a hit turned away (a 503 when the queues are full) is
# not a hit counted, however fast it was answered.
load() {
  local out secs accepted refused
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/ingest.lua "$1")
  secs=$(echo "$out" | awk '/ requests in / { sub(/s,$/, "", $4); print $4 }')
  read -r accepted refused < <(echo "$out" | sed -n 's/^accepted=\([0-9]*\) refused=\([0-9]*\).*/\1 \2/p')
  echo "$(awk -v a="$accepted" -v s="$secs" 'BEGIN { printf "%.2f", a / s }') $accepted $refused"
}

nport=$(free_port)
start_nginx "$nport" "location = /statistics/hit { return 204; }"
sleep 0.5

# Page views counted so far in a database: folded into the daily totals, or waiting.
counted() {
  sqlite3 "$1" "SELECT (SELECT coalesce(sum(pageviews), 0) FROM stats_totals WHERE grain = 'day' AND dimension = '') + (SELECT count(*) FROM stats_hits AS b, json_each(b.hits) AS h WHERE h.value ->> 1 = '')"
}

echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s, POST /statistics/hit, every request a new visitor (user agents: ${AGENTS:-twenty browsers})"
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  disk=$(disk_commits)
  read -r nginx_rate _ _ < <(load "http://127.0.0.1:$nport")
  port=$(free_port)
  db="$work/ingest-$round.db"
  cat >"$work/candour-$round.toml" <<CONF
listen = "127.0.0.1:$port"
database_url = "sqlite://$db"
[organisation]
name = "Northmoor Police"
[http]
trusted_proxies = ["127.0.0.1"]
[stats]
enabled = true
sites = ["https://www.example.org"]
CONF
  RUST_LOG=warn "$BIN" --config "$work/candour-$round.toml" serve >"$work/serve-$round.out" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "http://127.0.0.1:$port/readyz"
  read -r rate accepted refused < <(load "http://127.0.0.1:$port")
  # A clean stop writes what is queued (see the README's bound on what a crash can lose).
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  stored=$(counted "$db")
  ratio=$(awk -v c="$rate" -v n="$nginx_rate" 'BEGIN { printf "%.2f", c / n }')
  ratios+=("$ratio")
  echo "round $round: nginx 204 $nginx_rate requests/s; candour $rate hits/s (ratio $ratio); accepted $accepted, not accepted $refused, counted $stored; disk $disk durable commits/s"
  # Hits still in flight when wrk stopped (at most one per connection) are counted too.
  extra=$((stored - accepted))
  if [ "$extra" -lt 0 ] || [ "$extra" -gt "$CONNECTIONS" ]; then
    echo "counted $stored page views for $accepted accepted hits: hits were lost or invented" >&2
    exit 1
  fi
done
echo "ratio candour/nginx: median $(printf '%s\n' "${ratios[@]}" | median), spread $(spread "${ratios[@]}")"
echo "every accepted hit counted"
machine_note
