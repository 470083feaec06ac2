#!/usr/bin/env bash
# A request's bundle: `candour requests bundle` writes the ZIP for one person who holds
# 10,000 rows (consent events, form answers, campaign messages, opens and clicks) in a
# database of PEOPLE people and ROWS related rows, ROUNDS times, beside the reference: the
# bare indexed SELECTs that read the same rows, in the same run. Reports the median and p95
# of each, their ratio, and the peak memory of the process that writes the bundles.
# Then the bundle of a case with one added file of FILE_MIB MiB (the upload limit by default),
# once, for its peak memory: added files are copied into the archive in pieces.
#   [--short] [DB=sqlite|postgres] [PEOPLE=1000000] [ROWS=10000000] [ROUNDS=20] [FILE_MIB=20] [BIN=…] bench/bundle.sh
# Seeding the full size takes minutes: SEEDED=URL runs against a database seeded (and
# migrated by BIN) before, e.g. by `bundle_seed.py URL seed 1000000 10000000`, and keeps it.
# Targets: bundle p95 under 1 s, at most 3x the SELECTs, peak memory under 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PEOPLE=${PEOPLE:-1000000}
ROWS=${ROWS:-10000000}
if [ "${1:-}" = "--short" ]; then PEOPLE=20000; ROWS=200000; fi
ROUNDS=${ROUNDS:-20}
FILE_MIB=${FILE_MIB:-20}
DB=${DB:-sqlite}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p candour
  BIN="${CARGO_TARGET_DIR:-target}/release/candour"
fi

work=$(mktemp -d)
pg_db=""
cleanup() {
  [ -n "$pg_db" ] && psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${SEEDED:-}" ]; then
  url="$SEEDED"
  export CANDOUR_DATABASE_URL="$url"
  "$BIN" migrate >/dev/null
  echo "reusing the database seeded before at $url"
else
  if [ "$DB" = postgres ]; then
    pg_db="candour_bundle_bench_$$"
    psql "$PG_URL/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
    url="$PG_URL/$pg_db"
  else
    url="sqlite://$work/candour.db"
  fi
  export CANDOUR_DATABASE_URL="$url"
  "$BIN" migrate >/dev/null
  echo "seeding $PEOPLE people and $ROWS rows on $DB…"
  start=$(date +%s.%N)
  python3 bench/bundle_seed.py "$url" seed "$PEOPLE" "$ROWS"
  echo "seeded in $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
fi
# What else is using the machine while it runs.
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); busiest: $(ps -eo pcpu=,comm= --sort=-pcpu | head -3 | awk '{printf "%s %s%%; ", $2, $1}')"

python3 bench/bundle_seed.py "$url" select 3 >/dev/null # warm the cache as the bundle's first round does
python3 bench/bundle_seed.py "$url" select "$ROUNDS" > "$work/select.txt"
/usr/bin/time -v -o "$work/time.txt" "$BIN" requests bundle --person 1 --internal "benchmark run" --rounds "$ROUNDS" --out "$work/bundles" > "$work/bundle.txt"
grep '^Wrote' "$work/bundle.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# The archive reads back whole in another program's ZIP reader.
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); bad = z.testzip(); assert bad is None, bad; print(len(z.namelist()), "entries, all intact")' "$work"/bundles/bundle-*.zip
# A case's bundle with a file of FILE_MIB MiB: its peak memory.
case=$(python3 bench/bundle_seed.py "$url" file "$FILE_MIB")
/usr/bin/time -v -o "$work/file-time.txt" "$BIN" requests bundle --case "$case" --internal "benchmark run" --out "$work/file-bundle" > "$work/file-bundle.txt"
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); bad = z.testzip(); assert bad is None, bad; f = [i.file_size for i in z.infolist() if i.filename.startswith("files/")]; assert f == [int(sys.argv[2]) * 1048576], f; print("the case bundle holds the added file of", sys.argv[2], "MiB, intact")' "$work"/file-bundle/bundle-*.zip "$FILE_MIB"
python3 - "$work/select.txt" "$work/bundle.txt" "$work/time.txt" "$work/file-time.txt" <<'PY'
import re, statistics, sys
def rounds(path):
    return [float(m) for m in re.findall(r"^round_ms ([0-9.]+)", open(path).read(), re.M)]
def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
sel, bun = rounds(sys.argv[1]), rounds(sys.argv[2])
peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[3]).read()).group(1))
print(f"SELECTs: median {statistics.median(sel):.1f} ms, p95 {p95(sel):.1f} ms (min {min(sel):.1f}, max {max(sel):.1f})")
print(f"bundle:  median {statistics.median(bun):.1f} ms, p95 {p95(bun):.1f} ms (min {min(bun):.1f}, max {max(bun):.1f})")
ratio = p95(bun) / p95(sel)
print(f"ratio of medians: {statistics.median(bun) / statistics.median(sel):.2f} (target <= 3); "
      f"round by round, sorted and paired: {min(b / s for b, s in zip(sorted(bun), sorted(sel))):.2f} to {max(b / s for b, s in zip(sorted(bun), sorted(sel))):.2f}")
print(f"ratio (p95 bundle / p95 SELECTs): {ratio:.2f}  (target <= 3)")
print(f"peak memory of the bundle process: {peak_kib / 1024:.1f} MiB  (target < 64)")
file_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[4]).read()).group(1))
print(f"peak memory of a case's bundle with the added file: {file_kib / 1024:.1f} MiB  (target < 64)")
ok = p95(bun) < 1000 and ratio <= 3 and statistics.median(bun) / statistics.median(sel) <= 3 and peak_kib < 64 * 1024 and file_kib < 64 * 1024
print("PASS" if ok else "FAIL")
PY
