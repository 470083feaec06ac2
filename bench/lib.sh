# Shared by the benchmarks that source it: tools, the release binary, a work folder cleaned
# up at exit, ports, nginx as the reference, and the median and spread of a few rounds.
# Sourcing scripts run from the repository's root with `set -euo pipefail`.

# need COMMAND DEBIAN_PACKAGE: install the package when the command is missing.
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }; }

# The release binary in $BIN: BIN=path/to/candour skips the build (to measure a binary built
# elsewhere).
release_bin() {
  if [ -z "${BIN:-}" ]; then
    cargo build --release --locked -p candour
    BIN="${CARGO_TARGET_DIR:-target}/release/candour"
  fi
}

# $work: a fresh folder nginx's unprivileged workers can read; every pid pushed on `pids` is
# stopped, and the folder removed, at exit.
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# start_nginx PORT SERVER_DIRECTIVES: nginx on 127.0.0.1:PORT with one server block holding
# the directives given, running until exit.
start_nginx() {
  cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$1;
    $2
  }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work" &
  pids+=("$!")
}

# Durable single-row commits per second on the disk under $work, one after another, in
# the mode Candour writes SQLite (WAL, synchronous = FULL).
disk_commits() {
  python3 - "$work/disk-probe.db" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode = WAL")
c.execute("PRAGMA synchronous = FULL")
c.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
n, start = 0, time.monotonic()
while time.monotonic() - start < 2.0:
    c.execute("INSERT INTO t (v) VALUES (?)", (n,))
    n += 1
print(f"{n / (time.monotonic() - start):.0f}")
PY
  rm -f "$work"/disk-probe.db*
}

# The median of the numbers on standard input; the lowest and highest of the arguments.
median() { sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }

# What else is using the machine while a benchmark runs: the load and the busiest programs.
machine_note() {
  echo "machine: $(nproc) cores;$(uptime | sed 's/.*load average/ load average/')"
  ps -eo pcpu=,comm= --sort=-pcpu | head -n 4 | awk '{ printf "  %s%% %s\n", $1, $2 }'
}
