#!/usr/bin/env bash
# Votes per second into one poll, with every vote durable, on SQLite and on PostgreSQL, beside
# nginx answering the same request with a static 303 on the same machine in the same run.
# Afterwards the stored count must equal the number of votes the server accepted.
# The machine's speed drifts from minute to minute, so each round runs nginx and then Candour
# on SQLite straight after it, and the median of the rounds' ratios is the result, with the
# spread (lowest and highest round). A durable vote costs a commit, so each round also measures
# the disk: single-row SQLite commits per second in the same folder and mode as Candour's
# (WAL, synchronous = FULL), one at a time for two seconds. A slow disk lowers both that rate and
# the ratio; a slow Candour lowers only the ratio.
#   ROUNDS=3 DURATION=10 CONNECTIONS=64 [BIN=…] [PG_URL=postgres://postgres@127.0.0.1:5432] bench/votes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}

source bench/lib.sh
need wrk wrk
need nginx nginx-light
need psql postgresql-client

release_bin

# One load run against $1; prints "rate accepted".
load() {
  local out
  out=$(CSRF="$2" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/vote.lua "$1")
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | sed -n 's/^accepted=\([0-9]*\).*/\1/p')"
}

# nginx: the same POST answered with a static 303.
nport=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nport;
    location /polls/1/vote { return 303 /polls/1; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" &
pids+=("$!")
sleep 0.5

run_candour() { # backend database_url count_sql_command
  local name=$1 url=$2 port
  port=$(free_port)
  # Every vote comes from one loopback address: lift the ceiling on votes per address.
  RUST_LOG=warn CANDOUR_POLLS__VOTES_PER_ADDRESS=4000000000 \
    "$BIN" demo --listen "127.0.0.1:$port" --database-url "$url" >"$work/$name.out" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_for "http://127.0.0.1:$port/readyz"
  local token
  token=$(curl -fs "http://127.0.0.1:$port/polls/1" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
  read -r rate accepted < <(load "http://127.0.0.1:$port" "$token")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rate $accepted"
}

# Every accepted vote must be stored. Votes still in flight when wrk stops (at most one per
# connection) are stored too, though wrk never reads their answers.
check() { # name accepted stored
  local extra=$(( $3 - $2 ))
  if [ "$extra" -lt 0 ] || [ "$extra" -gt "$CONNECTIONS" ]; then
    echo "$1: stored $3 votes but accepted $2: votes were lost or invented" >&2
    exit 1
  fi
  echo "  $1: every accepted vote stored; $extra more were in flight when the load stopped"
}



echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s, POST /polls/1/vote, every request a new voter"
ratios=()
disks=()
for round in $(seq 1 "$ROUNDS"); do
  disk=$(disk_commits)
  disks+=("$disk")
  read -r nginx_rate _ < <(load "http://127.0.0.1:$nport" "x")
  sqlite_db="$work/votes-$round.db"
  read -r sqlite_rate sqlite_accepted < <(run_candour sqlite "sqlite://$sqlite_db")
  read -r sqlite_stored sqlite_rows < <(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('SELECT coalesce(sum(votes),0) FROM poll_options WHERE poll_id=1').fetchone()[0], c.execute('SELECT count(*) FROM poll_votes WHERE poll_id=1').fetchone()[0])" "$sqlite_db")
  ratio=$(awk -v s="$sqlite_rate" -v n="$nginx_rate" 'BEGIN { printf "%.2f", s / n }')
  ratios+=("$ratio")
  echo "round $round: nginx static 303 $nginx_rate requests/s; candour on SQLite $sqlite_rate votes/s (ratio $ratio; accepted $sqlite_accepted, stored count $sqlite_stored, rows $sqlite_rows); disk $disk durable commits/s"
  [ "$sqlite_stored" = "$sqlite_rows" ] || { echo "SQLite: the count ($sqlite_stored) and the rows ($sqlite_rows) differ" >&2; exit 1; }
  check SQLite "$sqlite_accepted" "$sqlite_stored"
done

read -r nginx_rate _ < <(load "http://127.0.0.1:$nport" "x")
pg_db="candour_bench_$$"
psql "$PG_URL/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
read -r pg_rate pg_accepted < <(run_candour postgres "$PG_URL/$pg_db")
pg_stored=$(psql "$PG_URL/$pg_db" -tAc "SELECT coalesce(sum(votes),0) FROM poll_options WHERE poll_id=1" | tr -d ' ')
pg_rows=$(psql "$PG_URL/$pg_db" -tAc "SELECT count(*) FROM poll_votes WHERE poll_id=1" | tr -d ' ')
psql "$PG_URL/postgres" -qc "DROP DATABASE $pg_db WITH (FORCE)" >/dev/null
pg_ratio=$(awk -v p="$pg_rate" -v n="$nginx_rate" 'BEGIN { printf "%.2f", p / n }')
echo "PostgreSQL: nginx static 303 $nginx_rate requests/s; candour on PostgreSQL $pg_rate votes/s (ratio $pg_ratio; accepted $pg_accepted, stored count $pg_stored, rows $pg_rows)"
[ "$pg_stored" = "$pg_rows" ] || { echo "PostgreSQL: the count ($pg_stored) and the rows ($pg_rows) differ" >&2; exit 1; }
check PostgreSQL "$pg_accepted" "$pg_stored"
echo "ratio to nginx: SQLite ${ratios[*]} (median $(printf '%s\n' "${ratios[@]}" | median), spread $(spread "${ratios[@]}")); PostgreSQL $pg_ratio"
disk_median=$(printf '%s\n' "${disks[@]}" | median)
echo "disk: durable single-row commits/s ${disks[*]} (median $disk_median, spread $(spread "${disks[@]}"); one commit about $(awk -v d="$disk_median" 'BEGIN { printf "%.0f", 1e6 / d }') µs)"
