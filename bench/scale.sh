#!/usr/bin/env bash
# Scale-out, shown: three `candour serve` instances on one PostgreSQL database behind nginx
# (round robin, no sticky sessions), as an operator would run them. Checks and measures:
#   sessions and limits  a session made on one instance works on the others, signing out on
#                        one ends it everywhere, sign-in failures are counted across instances
#   votes                BROWSERS signed-in voters (a poll for account holders: one vote per
#                        account, so "distinct voters" is exact) each sending TRIES votes at
#                        once, spread over the instances: exactly BROWSERS counted, no 5xx
#   throughput           requests/s of a mixed load (pages, votes, open pixels) through nginx
#                        to 1, 2 and 3 instances, in the same run, ROUNDS rounds
#   campaign             one RECIPIENTS-message campaign sent by one instance, then another
#                        sent by all three, to Postfix's smtp-sink: every recipient exactly
#                        once at the sink (Message-IDs and To: counted), every delivery marked
#                        sent once, the campaign marked sent once; messages/s 3 against 1
# Exits non-zero on any broken promise.
#   [--short] [CANDOUR_BIN=…] [PG_URL=postgres://postgres@127.0.0.1:5432] bench/scale.sh
#   Full: BROWSERS=2000 TRIES=5 RECIPIENTS=100000 DURATION=10 ROUNDS=3 CONNECTIONS=64
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--short" ]; then
  BROWSERS=${BROWSERS:-300} RECIPIENTS=${RECIPIENTS:-3000} DURATION=${DURATION:-3} ROUNDS=${ROUNDS:-1}
fi
BROWSERS=${BROWSERS:-2000}
TRIES=${TRIES:-5}
RECIPIENTS=${RECIPIENTS:-100000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
VOTE_CONCURRENCY=${VOTE_CONCURRENCY:-500}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PASSWORD="a long walk by the river 42"

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx-light
need psql postgresql-client
if ! command -v smtp-sink >/dev/null 2>&1; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
BIN=${CANDOUR_BIN:-${BIN:-}}
# Every CANDOUR_ variable is read as configuration by the server: keep this one from it.
unset CANDOUR_BIN
if [ -z "$BIN" ]; then
  cargo build --release --locked -p candour
  BIN="${CARGO_TARGET_DIR:-target}/release/candour"
fi

work=$(mktemp -d)
chmod 755 "$work"
pg_db="candour_scale_$$"
declare -A inst_pid=()
pids=()
cleanup() {
  for p in "${inst_pid[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 300); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
median() { sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }
fail() { echo "BROKEN: $*" >&2; exit 1; }
seed() { (cd bench && python3 scale_seed.py "$db_url" "$@"); }

psql "$PG_URL/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
db_url="$PG_URL/$pg_db"
sink_port=$(free_port)
ports=("$(free_port)" "$(free_port)" "$(free_port)")
lb=("$(free_port)" "$(free_port)" "$(free_port)")  # nginx in front of 1, 2 and 3 instances
names=(A B C)

cat >"$work/candour.toml" <<CONF
database_url = "$db_url"

[organisation]
name = "Northmoor Police"

[http]
trusted_proxies = ["127.0.0.1"]

[polls]
# The mixed load's anonymous votes all come from this machine: lift the ceiling per address.
votes_per_address = 4000000000

[mail]
smtp_url = "smtp://127.0.0.1:$sink_port"
from = "Northmoor Police <news@northmoor.police.example>"

[campaigns]
batch_size = 500
concurrency = 4

$(cat "bench/purpose-news.toml")
CONF

# instance INDEX WORKER: (re)start one instance, sending campaigns or not.
start_instance() {
  local i=$1 worker=$2
  RUST_LOG=warn CANDOUR_CAMPAIGNS__WORKER=$worker \
    "$BIN" --config "$work/candour.toml" serve --listen "127.0.0.1:${ports[$i]}" \
    >>"$work/instance-$i.out" 2>&1 &
  inst_pid[$i]=$!
}
stop_instance() {
  kill "${inst_pid[$1]}" 2>/dev/null || true
  wait "${inst_pid[$1]}" 2>/dev/null || true
  unset "inst_pid[$1]"
}
ready_all() { for i in "$@"; do wait_for "http://127.0.0.1:${ports[$i]}/readyz"; done; }

RUST_LOG=warn "$BIN" --config "$work/candour.toml" migrate >/dev/null
read -r -d '' poll_account poll_anyone < <(seed polls; printf '\0') || true
for email in walker@example.org limited@example.org; do
  echo "$PASSWORD" | RUST_LOG=warn "$BIN" --config "$work/candour.toml" admin create --email "$email" --role editor >/dev/null
done
seed voters "$BROWSERS" walker@example.org "$work/voters"
seed people "$RECIPIENTS"
for i in 0 1 2; do start_instance "$i" false; done
ready_all 0 1 2
seed tracked 20000 "$work/opens"

mkdir -p "$work/nginx"
upstream() { local n=$1 s="" j; for j in $(seq 0 $((n - 1))); do s+="server 127.0.0.1:${ports[$j]}; "; done; echo "$s"; }
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  upstream one { $(upstream 1) keepalive 64; }
  upstream two { $(upstream 2) keepalive 64; }
  upstream three { $(upstream 3) keepalive 64; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host \$host;
  proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
  add_header X-Upstream \$upstream_addr always;
  server { listen 127.0.0.1:${lb[0]}; location / { proxy_pass http://one; } }
  server { listen 127.0.0.1:${lb[1]}; location / { proxy_pass http://two; } }
  server { listen 127.0.0.1:${lb[2]}; location / { proxy_pass http://three; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" &
pids+=("$!")
wait_for "http://127.0.0.1:${lb[2]}/healthz"
nginx_url="http://127.0.0.1:${lb[2]}"
url_of() { echo "http://127.0.0.1:${ports[$1]}"; }

echo "== three instances (${ports[*]}) on PostgreSQL database $pg_db behind nginx :${lb[2]}"
machine_note() {
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(pgrep -c -x rustc || true) rustc and $(pgrep -c -x cargo || true) cargo processes running"
}
machine_note

echo "== sessions and limits"
python3 bench/scale_client.py sessions "$nginx_url" "$(url_of 0)" "$(url_of 1)" "$(url_of 2)" \
  walker@example.org "$PASSWORD" limited@example.org || fail "sessions or limits"

echo "== votes: $BROWSERS signed-in browsers, $TRIES tries each, at most $VOTE_CONCURRENCY in flight"
result=$(python3 bench/scale_client.py votes "$nginx_url" "$poll_account" "$work/voters" "$TRIES" "$VOTE_CONCURRENCY")
echo "$result"
read -r counted repeats server_errors others < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
s = {int(k): v for k, v in r["by_status"].items()}
print(s.get(303, 0), s.get(409, 0), sum(v for k, v in s.items() if k >= 500) + sum(r["errors"].values()),
      sum(v for k, v in s.items() if k not in (303, 409) and k < 500))' "$result")
read -r rows distinct total < <(seed sql "SELECT count(*), count(DISTINCT account_id), (SELECT sum(votes) FROM poll_options WHERE poll_id = $poll_account) FROM poll_votes WHERE poll_id = $poll_account" | tr '|' ' ')
echo "answers: $counted counted (303), $repeats repeats (409), $server_errors 5xx or lost, $others other; database: $rows rows, $distinct distinct voters, count $total"
[ "$server_errors" = 0 ] || fail "votes: $server_errors answers were 5xx or lost"
[ "$others" = 0 ] || fail "votes: $others answers were neither counted nor a repeat"
[ "$counted" = "$BROWSERS" ] || fail "votes: $counted votes acknowledged for $BROWSERS voters"
[ "$rows" = "$BROWSERS" ] && [ "$distinct" = "$BROWSERS" ] && [ "$total" = "$BROWSERS" ] ||
  fail "votes: the database holds $rows rows, $distinct voters, a count of $total for $BROWSERS voters"
[ "$repeats" = $((BROWSERS * (TRIES - 1))) ] || fail "votes: $repeats repeats"
echo "ok      exactly $BROWSERS counted, no 5xx"

echo "== throughput: mixed load (4 pages, 3 votes, 3 open pixels in 10), wrk -t2 -c$CONNECTIONS -d${DURATION}s"
page=$(curl -fs "$nginx_url/polls/$poll_anyone")
csrf=$(echo "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
option=$(echo "$page" | sed -n 's/.*name="option" value="\([0-9]*\)".*/\1/p' | head -n1)
declare -A rates=()
for round in $(seq 1 "$ROUNDS"); do
  # Alternate the order so a drift in the machine's speed does not favour one count.
  order="1 2 3"; [ $((round % 2)) = 0 ] && order="3 2 1"
  for k in $order; do
    python3 bench/cpu_by_program.py snap "$work/cpu"
    out=$(RUN="$round-$k" TOKENS="$work/opens" POLL="$poll_anyone" CSRF="$csrf" OPTION="$option" \
      wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/scale_mixed.lua "http://127.0.0.1:${lb[$((k - 1))]}")
    cpu=$(python3 bench/cpu_by_program.py diff "$work/cpu")
    rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    line=$(echo "$out" | grep '^good=')
    echo "round $round, $k instance(s): $rate requests/s ($line)"
    echo "  CPU by program: $cpu"
    se=$(echo "$line" | sed -n 's/.*server_errors=\([0-9]*\).*/\1/p')
    ce=$(echo "$line" | sed -n 's/.*client_errors=\([0-9]*\).*/\1/p')
    [ "$se" = 0 ] || fail "throughput: $se answers were 5xx with $k instance(s)"
    [ "$ce" = 0 ] || fail "throughput: $ce answers were 4xx with $k instance(s)"
    rates[$k]="${rates[$k]:-} $rate"
  done
done
for k in 1 2 3; do
  # shellcheck disable=SC2086
  echo "$k instance(s): median $(printf '%s\n' ${rates[$k]} | median) requests/s, spread $(spread ${rates[$k]})"
done
m1=$(printf '%s\n' ${rates[1]} | median)
echo "ratio to one instance: two $(awk -v a="$(printf '%s\n' ${rates[2]} | median)" -v b="$m1" 'BEGIN { printf "%.2f", a / b }'), three $(awk -v a="$(printf '%s\n' ${rates[3]} | median)" -v b="$m1" 'BEGIN { printf "%.2f", a / b }')"

machine_note
echo "== campaign: $RECIPIENTS recipients, sent by one instance, then by three"
stop_instance 1; stop_instance 2; stop_instance 0
mkdir -m 777 "$work/sink"
campaign_run() { # NAME INSTANCES...
  local name=$1; shift
  local sink dump="$work/sink/$name.mbox" i start end report ids distinct tos
  smtp-sink -u nobody -D "$dump" "127.0.0.1:$sink_port" 1000 &
  sink=$!
  sleep 0.3
  for i in "$@"; do start_instance "$i" true; done
  ready_all "$@"
  start=$(date +%s.%N)
  python3 bench/cpu_by_program.py snap "$work/cpu"
  seed campaign "$name" >/dev/null
  seed wait "$name" 3600
  end=$(date +%s.%N)
  echo "  CPU by program while sending: $(python3 bench/cpu_by_program.py diff "$work/cpu")"
  for i in "$@"; do stop_instance "$i"; done
  kill "$sink"; wait "$sink" 2>/dev/null || true
  report=$(seed report "$name")
  ids=$(grep -ci '^message-id:' "$dump" || true)
  distinct=$(grep -i '^message-id:' "$dump" | sort -u | wc -l)
  tos=$(grep -i '^to:' "$dump" | sort -u | wc -l)
  rate=$(python3 -c "print(round($RECIPIENTS / ($end - $start)))")
  echo "$name, $# instance(s): $rate messages/s ($(python3 -c "print(round($end - $start, 1))") s from scheduling to marked sent); sink: $ids messages, $distinct distinct Message-IDs, $tos distinct recipients; database: $report"
  [ "$ids" = "$RECIPIENTS" ] && [ "$distinct" = "$RECIPIENTS" ] && [ "$tos" = "$RECIPIENTS" ] ||
    fail "campaign $name: the sink holds $ids messages ($distinct Message-IDs, $tos recipients) for $RECIPIENTS"
  case "$report" in
    "sent=$RECIPIENTS "*"marked_sent=1") ;;
    *) fail "campaign $name: $report" ;;
  esac
  eval "rate_$name=$rate"
}
campaign_run one 0
campaign_run three 0 1 2
# shellcheck disable=SC2154
echo "ratio three to one: $(awk -v a="$rate_three" -v b="$rate_one" 'BEGIN { printf "%.2f", a / b }')"
machine_note
echo "every promise kept"
