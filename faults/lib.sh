# Shared by the fault scripts: the binary, a work folder cleaned on exit, free ports, waiting
# for an answer, median and spread. Source it from the repository's root.
set -euo pipefail
SHORT=0
[ "${1:-}" = "--short" ] && SHORT=1
BIN=${CANDOUR_BIN:-}
# Every CANDOUR_ variable is read as configuration by the server: keep this one from it.
unset CANDOUR_BIN
if [ -z "$BIN" ]; then
  cargo build --release --locked -p candour
  BIN="${CARGO_TARGET_DIR:-target}/release/candour"
fi
BIN=$(realpath "$BIN")
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}

work=$(mktemp -d)
chmod 755 "$work"
pids=()
on_exit=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for c in "${on_exit[@]}"; do eval "$c" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Wait until URL answers 200, for at most SECONDS (default 30).
wait_for() {
  local end=$(( $(date +%s) + ${2:-30} ))
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -fs -m 2 "$1" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2
  return 1
}
median() { sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }
broken=0
promise() { # OK? WHAT
  if [ "$1" = 1 ]; then echo "ok      $2"; else echo "BROKEN  $2"; broken=1; fi
}
seed() { (cd bench && python3 scale_seed.py "$@"); }
# What else is running: the load and the compilers of other builds on the machine.
machine_note() {
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(pgrep -c -x rustc || true) rustc and $(pgrep -c -x cargo || true) cargo processes running"
}

# A minimal configuration for URL on PORT, written to FILE.
write_config() { # FILE URL
  cat >"$1" <<CONF
database_url = "$2"

[organisation]
name = "Northmoor Police"

[polls]
votes_per_address = 4000000000

[campaigns]
worker = false

$(cat "$(dirname "${BASH_SOURCE[0]}")/../bench/purpose-news.toml")
CONF
}
