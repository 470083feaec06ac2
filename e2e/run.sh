#!/usr/bin/env bash
# Browser tests for Candour: start `candour demo` on a free loopback port, run the suite
# against it with headless Chromium, and stop the server whatever happens.
#
#   e2e/run.sh [path/to/candour] [test files...]
#     (default binary: ../target/debug/candour, relative to e2e/; default tests: all of tests/,
#     or name some, e.g. tests/35-requests.test.mjs, to run only those)
#
# Exit code: the test run's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="${1:-$here/../target/debug/candour}"
shift || true
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(tests/)
# A relative path is relative to where the script was called from.
[[ "$binary" == /* ]] || binary="$PWD/$binary"
cd "$here"

if [[ ! -x "$binary" ]]; then
  echo "run.sh: no candour binary at $binary (build it with: cargo build -p candour)" >&2
  exit 2
fi
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

# What the suite needs, installed only when missing.
if [[ ! -x /usr/bin/chromium ]]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
fi
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi

# A free loopback port, chosen by the OS.
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
base="http://127.0.0.1:$port/"

log="$(mktemp -t candour-e2e-server.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Campaigns go out at most 2 messages a second, so that a campaign to the few people of the
# campaign tests takes a second or more to send, and the page that answers "Schedule the
# campaign" is loaded before it is sent (see tests/33-campaigns.test.mjs).
# Every account test registers from 127.0.0.1, more than the ten an hour one address may by
# default.
CANDOUR_ACCOUNTS__REGISTRATIONS_PER_ADDRESS_PER_HOUR=100 \
CANDOUR_CAMPAIGNS__RATE_PER_SECOND=2 "$binary" demo --listen "127.0.0.1:$port" >"$log" 2>&1 &
server_pid=$!

# Wait up to 30 s for /readyz.
ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: candour demo exited before it was ready; its output:" >&2
    cat "$log" >&2
    exit 1
  fi
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' "${base}readyz" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [[ -z "$ready" ]]; then
  echo "run.sh: candour demo did not answer ${base}readyz within 30 s; its output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "run.sh: candour demo ready at $base"

# The demo prints the staff sign-in and the outbox folder; the account tests need both.
#   Staff:    admin@northmoor.police.example with the password amber-badger-canal-dune
#   Email:    written to /tmp/candour-demo-XXXX/outbox instead of being sent
staff_line="" outbox_line=""
for _ in $(seq 1 50); do
  staff_line="$(grep -m1 -E '^[[:space:]]*Staff:[[:space:]]+[^[:space:]]+ with the password [^[:space:]]+' "$log" || true)"
  outbox_line="$(grep -m1 -E '^[[:space:]]*Email:[[:space:]]+written to .+ instead of being sent' "$log" || true)"
  [[ -n "$staff_line" && -n "$outbox_line" ]] && break
  sleep 0.1
done
if [[ -z "$staff_line" || -z "$outbox_line" ]]; then
  echo "run.sh: could not find the staff sign-in and the outbox folder in the demo's output:" >&2
  cat "$log" >&2
  exit 1
fi
CANDOUR_E2E_STAFF_EMAIL="$(sed -E 's/^[[:space:]]*Staff:[[:space:]]+([^[:space:]]+) with the password .*/\1/' <<<"$staff_line")"
CANDOUR_E2E_STAFF_PASSWORD="$(sed -E 's/.* with the password ([^[:space:]]+)[[:space:]]*$/\1/' <<<"$staff_line")"
CANDOUR_E2E_OUTBOX="$(sed -E 's/^[[:space:]]*Email:[[:space:]]+written to (.+) instead of being sent[[:space:]]*$/\1/' <<<"$outbox_line")"
export CANDOUR_E2E_STAFF_EMAIL CANDOUR_E2E_STAFF_PASSWORD CANDOUR_E2E_OUTBOX
echo "run.sh: staff account $CANDOUR_E2E_STAFF_EMAIL; email outbox $CANDOUR_E2E_OUTBOX"

# Tests that need a server configured otherwise (tests/47-statistics-cross-site.test.mjs)
# start their own from the same binary.
export CANDOUR_E2E_BINARY="$binary"

status=0
CANDOUR_E2E_URL="$base" node --test --test-concurrency=1 --test-timeout=90000 "${tests[@]}" || status=$?
if [[ $status -ne 0 ]]; then
  echo "run.sh: the tests failed (exit $status); the server's last output:" >&2
  tail -n 40 "$log" >&2
fi
exit "$status"
