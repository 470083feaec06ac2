#!/usr/bin/env bash
# The statistics dashboard at scale. For each size, N raw events (bench/statistics_events.py:
# 90 days, 5,000 pages, 2,000 referring hosts, Zipf-like skew, daily and weekly rhythm, visits
# of several pages) are written once to a file and kept under target/bench-statistics. Then,
# for the last 30 days of them:
#   - DuckDB and chDB (ClickHouse in-process), from the Python registry into a venv beside the
#     files, load the raw events into their own tables and answer each dashboard panel from
#     them (bench/statistics_reference.py);
#   - Candour records and folds the same events through its real store methods
#     (StatsIngestStore, driven by the `stats_bench` example) on SQLite and on PostgreSQL and
#     answers the same panels from its totals (StatsReportStore), then every panel again
#     filtered by the busiest page and by the busiest referrer (a click on a row; the
#     references are not asked these).
# Prints a table of each panel's p50/p95 per engine, the whole dashboard's time per size
# (it should stay flat as events grow), and checks that Candour's totals agree with DuckDB's
# answer to the same questions (the site's visitors, visits and page views; page views and
# visitors per page), printing any mismatch. Exits non-zero on a mismatch, or when a panel's
# p95 on Candour is 50 ms or more.
#   [--short] [SIZES="1000000 10000000"] [ROUNDS=20] [REFERENCE_ROUNDS=5] [PG_URL=…] bench/statistics.sh
#   ROUNDS times each of Candour's panels; REFERENCE_ROUNDS each of DuckDB's and chDB's,
#   which take seconds a panel at 10M events. --short: SIZES=100000 ROUNDS=5, a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--short" ]; then
  SIZES=${SIZES:-100000} ROUNDS=${ROUNDS:-5}
fi
SIZES=${SIZES:-"1000000 10000000"}
ROUNDS=${ROUNDS:-20}
REFERENCE_ROUNDS=${REFERENCE_ROUNDS:-5}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
source bench/lib.sh
need psql postgresql-client

cache=target/bench-statistics
mkdir -p "$cache"
if ! "$cache/venv/bin/python" -c 'import duckdb, chdb' 2>/dev/null; then
  python3 -m venv "$cache/venv"
  "$cache/venv/bin/pip" install -q duckdb==2.0.1 chdb==4.4.0
fi
# DRIVER=path/to/stats_bench skips the build (to measure one built elsewhere).
if [ -z "${DRIVER:-}" ]; then
  cargo build --release --locked -p candour --example stats_bench
  DRIVER="${CARGO_TARGET_DIR:-target}/release/examples/stats_bench"
fi
driver=$DRIVER

# The data's 90 days run from 1 December 2025; the range is their last 30 (GMT: UK days are
# UTC days).
start=1764547200
from=$((start + 60 * 86400))
to=$((start + 90 * 86400))

pg_db="candour_stats_$$"
trap 'psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; cleanup' EXIT

results="$work/results.jsonl"
: >"$results"
tag() { # size engine: add both to each JSON line read
  sed "s/^{/{\"size\": $1, \"engine\": \"$2\", /"
}

for size in $SIZES; do
  events="$cache/events-$size.tsv"
  if [ ! -s "$events" ]; then
    echo "writing $size events to $events"
    python3 bench/statistics_events.py "$size" "$events.unsorted"
    { head -n 1 "$events.unsorted"; tail -n +2 "$events.unsorted" | LC_ALL=C sort -t "$(printf '\t')" -k1,1n -S 25%; } >"$events.tmp"
    rm "$events.unsorted"
    mv "$events.tmp" "$events"
  fi

  echo "size $size: DuckDB and chDB from the raw events"
  "$cache/venv/bin/python" bench/statistics_reference.py "$events" "$from" "$to" "$REFERENCE_ROUNDS" \
    --answers "$work/duckdb-$size.tsv" | sed "s/^{/{\"size\": $size, /" >>"$results"

  for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then
      url="sqlite://$work/stats-$size.db"
    else
      psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
      psql "$PG_URL/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
      url="$PG_URL/$pg_db"
    fi
    echo "size $size: Candour on $backend, loading through the store"
    machine_note >&2
    "$driver" load "$url" "$events" | tag "$size" "candour-$backend" >>"$results"
    if [ "$backend" = postgres ]; then
      # What autovacuum does on its own within a minute of a load this size: the panels'
      # reads are index-only scans once the visibility map is set.
      psql "$url" -qc "VACUUM ANALYZE" >/dev/null
      psql "$url" -Atc "EXPLAIN SELECT value, SUM(visitors) FROM stats_totals
        WHERE grain = 'month' AND dimension = 'page' AND bucket >= '2026-02-01' AND bucket < '2026-03-01'
        GROUP BY value" >"$work/explain-postgres-$size.txt"
    else
      sqlite3 "$work/stats-$size.db" "EXPLAIN QUERY PLAN SELECT value, SUM(visitors) FROM stats_totals
        WHERE grain = 'month' AND dimension = 'page' AND bucket >= 1769904000 AND bucket < 1772323200
        GROUP BY value" >"$work/explain-sqlite-$size.txt" 2>/dev/null || true
    fi
    echo "  the pages panel's month piece, planned:" >&2
    sed 's/^/    /' "$work/explain-$backend-$size.txt" >&2
    "$driver" panels "$url" "$from" "$to" "$ROUNDS" --answers "$work/$backend-$size.tsv" \
      | tag "$size" "candour-$backend" >>"$results"
    if [ "$backend" = sqlite ]; then rm -f "$work/stats-$size.db"*; fi
  done
done

machine_note
python3 bench/statistics_report.py "$results" "$work" $SIZES
