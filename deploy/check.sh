#!/usr/bin/env bash
# Checks the deployment files here as far as this machine allows:
#  - the nginx site passes `nginx -t` (with a throwaway self-signed certificate), and, given a
#    Candour binary, answers through nginx as the README says: HTTP redirects to HTTPS,
#    Candour's HSTS header arrives once, a body over Candour's limit is refused by nginx,
#    tracking links reach Candour;
#  - the systemd unit passes `systemd-analyze verify`, and its offline security score stays
#    at or under 2.0 ("OK");
#  - the container file builds, when a container daemon answers (skipped otherwise).
#
# Usage: deploy/check.sh [path/to/candour]   (default: target/debug/candour when it exists)
# Needs nginx (Debian: nginx-light), openssl and curl; systemd-analyze when present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-$root/target/debug/candour}
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deploy/check: FAIL: $*" >&2; exit 1; }
ok() { echo "deploy/check: ok: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- nginx ---------------------------------------------------------------------------
command -v nginx >/dev/null || fail "nginx is not installed (apt-get install nginx-light)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=www.example.org" \
    -keyout "$work/site.key" -out "$work/site.pem" 2>/dev/null
p80=$(free_port); p443=$(free_port); pc=$(free_port)
sed -e "s#/etc/ssl/certs/www.example.org.pem#$work/site.pem#" \
    -e "s#/etc/ssl/private/www.example.org.key#$work/site.key#" \
    -e "s#listen 80;#listen 127.0.0.1:$p80;#" \
    -e "s#listen 443 ssl http2;#listen 127.0.0.1:$p443 ssl http2;#" \
    -e "/listen \[::\]/d" \
    -e "s#server 127.0.0.1:8080;#server 127.0.0.1:$pc;#" \
    "$here/nginx-candour.conf" > "$work/site.conf"
mkdir -p "$work/tmp"
cat > "$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
    client_body_temp_path $work/tmp/body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    include $work/site.conf;
}
CONF
nginx -t -p "$work" -c "$work/nginx.conf" 2>"$work/nginx-t.log" || { cat "$work/nginx-t.log" >&2; fail "nginx -t"; }
ok "nginx -t accepts deploy/nginx-candour.conf"

if [ -x "$bin" ]; then
    CANDOUR_LISTEN=127.0.0.1:$pc \
    CANDOUR_DATABASE_URL=sqlite://$work/candour.db \
    CANDOUR_PUBLIC_URL=https://www.example.org \
    CANDOUR_HTTP__TRUSTED_PROXIES='["127.0.0.1"]' \
        "$bin" serve 2>"$work/candour.log" &
    pids+=($!)
    nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' &
    pids+=($!)
    for _ in $(seq 1 200); do
        curl -fsS "http://127.0.0.1:$pc/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$pc/readyz" >/dev/null || { cat "$work/candour.log" >&2; fail "Candour did not start"; }
    site=(--resolve "www.example.org:$p443:127.0.0.1" -k)
    code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: www.example.org' "http://127.0.0.1:$p80/privacy")
    [[ $code == "301 https://www.example.org/privacy" ]] || fail "HTTP should redirect to HTTPS, got: $code"
    ok "HTTP redirects to HTTPS"
    curl -s -D "$work/h" -o /dev/null "${site[@]}" "https://www.example.org:$p443/privacy"
    grep -q '^HTTP/[0-9.]* 200' "$work/h" || fail "GET /privacy through nginx: $(head -1 "$work/h")"
    [ "$(grep -ci '^strict-transport-security:' "$work/h")" = 1 ] || fail "HSTS should come once, from Candour"
    ok "pages arrive through nginx over TLS with Candour's HSTS header, once"
    head -c 70000 /dev/zero | tr '\0' a > "$work/big"
    code=$(curl -s -o /dev/null -w '%{http_code}' "${site[@]}" --data-binary @"$work/big" "https://www.example.org:$p443/cookies/consent")
    [ "$code" = 413 ] || fail "a body over 64 KiB should be refused by nginx, got $code"
    ok "bodies over Candour's limit stop at nginx (413)"
    code=$(curl -s -o /dev/null -w '%{http_code}' "${site[@]}" "https://www.example.org:$p443/t/o/not-a-token.gif")
    case $code in 502|504|000) fail "tracking route through nginx: $code" ;; esac
    ok "tracking routes reach Candour unbuffered ($code for a bad token)"
else
    echo "deploy/check: skipped the live checks: no Candour binary at $bin"
fi

# --- systemd -------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    # verify wants the binary to exist; check the unit's own settings with a stand-in.
    sed "s#/usr/local/bin/candour#/bin/true#g" "$here/candour.service" > "$work/candour.service"
    systemd-analyze verify "$work/candour.service" || fail "systemd-analyze verify"
    ok "systemd-analyze verify accepts deploy/candour.service"
    score=$(systemd-analyze security --offline=yes "$work/candour.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for candour.service: \([0-9.]*\).*/\1/p')
    [ -n "$score" ] || fail "no security score"
    awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score is above 2.0"
    ok "systemd-analyze security: exposure $score"
else
    echo "deploy/check: skipped the unit: no systemd-analyze"
fi

# --- container -----------------------------------------------------------------------
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    docker build -q -f "$here/Containerfile" -t candour-check "$root" >/dev/null || fail "docker build"
    ok "the container builds"
else
    echo "deploy/check: skipped the container build: no container daemon answers"
fi
echo "deploy/check: all checks passed"
