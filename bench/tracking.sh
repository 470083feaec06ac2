#!/usr/bin/env bash
# The open pixel and the click redirect under wrk, beside nginx serving `empty_gif` and a
# `return 302` on the same machine in the same run. Both are sent the same requests: every
# request carries a different recipient's signed token. Afterwards the events recorded must
# equal the answers given.
#   DURATION=10 CONNECTIONS=64 [BIN=…] bench/tracking.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
RECIPIENTS=${RECIPIENTS:-1000000}

source bench/lib.sh
need wrk wrk
need nginx nginx-light
release_bin

# One load run: prints "rate good bad".
load() {
  local out
  out=$(TOKENS="$2" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/tracking.lua "$1")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | sed -n 's/^good=\([0-9]*\) bad=\([0-9]*\).*/\1 \2/p')"
}

nport=$(free_port)

db="$work/tracking.db"
port=$(free_port)
cat >"$work/candour.toml" <<CONF
listen = "127.0.0.1:$port"
database_url = "sqlite://$db"
[organisation]
name = "Northmoor Police"
[campaigns]
worker = false
$(cat "bench/purpose-news.toml")
CONF

# Start once so the server makes its signing keys, then seed sent, tracked deliveries.
RUST_LOG=warn "$BIN" --config "$work/candour.toml" serve >"$work/first.out" 2>&1 &
first=$!
wait_for "http://127.0.0.1:$port/readyz"
kill "$first"; wait "$first" 2>/dev/null || true
python3 bench/tracking_seed.py "$db" "$RECIPIENTS" "$work"

start_nginx "$nport" "location /t/o/ { empty_gif; }
    location /t/c/ { return 302 https://www.example.org/news; }"
RUST_LOG=warn "$BIN" --config "$work/candour.toml" serve >"$work/serve.out" 2>&1 &
pids+=("$!")
wait_for "http://127.0.0.1:$port/readyz"
# Each candour run straight after its nginx run (the other server idle), so a change in the
# machine's speed during the benchmark moves both figures of a ratio alike.
read -r nginx_open _ _ < <(load "http://127.0.0.1:$nport" "$work/opens")
read -r open_rate open_good open_bad < <(load "http://127.0.0.1:$port" "$work/opens")
read -r nginx_click _ _ < <(load "http://127.0.0.1:$nport" "$work/clicks")
read -r click_rate click_good click_bad < <(load "http://127.0.0.1:$port" "$work/clicks")
# Let the group-commit writer finish, then count.
recorded=0
for _ in $(seq 1 100); do
  now=$(python3 bench/tracking_seed.py "$db" count)
  [ "$now" = "$recorded" ] && break
  recorded=$now
  sleep 0.2
done
answered=$((open_good + click_good))

ratio() { python3 -c "print(round($1 / $2, 2))"; }
echo "connections:          $CONNECTIONS, ${DURATION}s each, $RECIPIENTS recipients"
echo "open pixel:  nginx $nginx_open/s, candour $open_rate/s, ratio $(ratio "$open_rate" "$nginx_open") (errors $open_bad)"
echo "click:       nginx $nginx_click/s, candour $click_rate/s, ratio $(ratio "$click_rate" "$nginx_click") (errors $click_bad)"
echo "events recorded:      $recorded for $answered answers"
# Every answered request must be recorded. Requests still in flight when wrk stops (at most
# one per connection and run) are recorded too, though wrk never reads their answers.
extra=$((recorded - answered))
if [ "$extra" -lt 0 ] || [ "$extra" -gt $((2 * CONNECTIONS)) ]; then
  echo "recorded $recorded events for $answered answers: events were lost or invented" >&2
  exit 1
fi
echo "every answered request recorded; $extra more were in flight when the load stopped"
