#!/usr/bin/env bash
# Campaign delivery: N personalised messages of about 10 KiB sent by `candour serve` to
# Postfix's smtp-sink on loopback, beside Postfix's smtp-source sending the same number of
# messages of the same size to the same sink with the same number of connections, in the
# same run. Reports both rates, their ratio, and the server's peak memory (VmHWM).
# DKIM=rsa or DKIM=ed25519 has Candour sign every message with a key made for the run.
#   N=100000 CONNECTIONS=4 [BIN=…] [DB=sqlite|postgres] [DKIM=rsa|ed25519] bench/campaign.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
CONNECTIONS=${CONNECTIONS:-4}
DB=${DB:-sqlite}
DKIM=${DKIM:-}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}

if ! command -v smtp-sink >/dev/null 2>&1; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
if [ "$DB" = postgres ] && ! command -v psql >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p candour
  BIN="${CARGO_TARGET_DIR:-target}/release/candour"
fi

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pg_db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$pg_db" ] && psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sink_port=$(free_port)
smtp-sink -u nobody -m 1000 ${SINK_DUMP:+-d "$SINK_DUMP/%M."} "127.0.0.1:$sink_port" 1000 &
pids+=("$!")
sleep 0.3

# The reference: smtp-source, same count, size and connections.
start=$(date +%s.%N)
smtp-source -s "$CONNECTIONS" -l 10240 -m "$N" -f bench@example.org -t sink@example.org "127.0.0.1:$sink_port"
end=$(date +%s.%N)
source_rate=$(python3 -c "print(round($N / ($end - $start)))")

if [ "$DB" = postgres ]; then
  pg_db="candour_bench_$$"
  psql "$PG_URL/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
  db_url="$PG_URL/$pg_db"
else
  db_url="sqlite://$work/campaign.db"
fi

port=$(free_port)
cat >"$work/candour.toml" <<CONF
listen = "127.0.0.1:$port"
database_url = "$db_url"
public_url = "https://www.northmoor.police.example"

[organisation]
name = "Northmoor Police"

[mail]
smtp_url = "smtp://127.0.0.1:$sink_port"
from = "Northmoor Police <news@northmoor.police.example>"

[campaigns]
concurrency = $CONNECTIONS
batch_size = 500

$(cat "bench/purpose-news.toml")
CONF
case "$DKIM" in
  "") ;;
  rsa) openssl genrsa -traditional -out "$work/dkim.key" 2048 2>/dev/null ;;
  ed25519) python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())' >"$work/dkim.key" ;;
  *) echo "DKIM must be rsa or ed25519" >&2; exit 2 ;;
esac
if [ -n "$DKIM" ]; then
  cat >>"$work/candour.toml" <<CONF
[mail.dkim]
domain = "northmoor.police.example"
selector = "bench"
key_file = "$work/dkim.key"
algorithm = "$DKIM-sha256"
CONF
fi

RUST_LOG=warn "$BIN" --config "$work/candour.toml" migrate >/dev/null
# N people who agreed to news by email, half of them to tracking too, and one campaign of
# about 10 KiB per message, due now.
python3 bench/campaign_seed.py "$db_url" "$N"

start=$(date +%s.%N)
RUST_LOG=warn "$BIN" --config "$work/candour.toml" serve >"$work/serve.out" 2>&1 &
server=$!
pids+=("$server")
python3 bench/campaign_seed.py "$db_url" wait
end=$(date +%s.%N)
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
counts=$(python3 bench/campaign_seed.py "$db_url" counts)
candour_rate=$(python3 -c "print(round($N / ($end - $start)))")

echo "messages:            $N of about 10 KiB, $CONNECTIONS connections, $DB${DKIM:+, signed with $DKIM}"
echo "smtp-source:         $source_rate messages/s"
echo "candour:             $candour_rate messages/s (from start-up to the campaign marked sent)"
echo "ratio:               $(python3 -c "print(round($candour_rate / $source_rate, 2))")"
echo "deliveries by state: $counts"
echo "peak memory (VmHWM): $((peak_kib / 1024)) MiB"
