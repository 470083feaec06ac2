"""The browsers of bench/scale.sh and faults/*: a small HTTP/1.1 client on asyncio (one
connection per request, as a crowd of browsers behind their own connections would).

  scale_client.py votes URL POLL TOKENS [TRIES] [CONCURRENCY]
      Every browser (a session cookie a line in TOKENS, from its own address through
      X-Forwarded-For) opens the poll, then sends TRIES votes at once, all browsers together
      with at most CONCURRENCY requests in flight. Prints the answers by status and by the
      instance that gave them (nginx's X-Upstream), as JSON.
  scale_client.py sessions NGINX A B C EMAIL PASSWORD LIMITED
      Signs in on A; the session must work on A, B, C and through NGINX; signs out on B; it
      must then be over on A, B and C. Then fails to sign in as LIMITED through NGINX (round
      robin) from one address until refused: the refusal must come after exactly the limit of
      failures, though no instance saw that many. Exits 1 on a broken promise.
  scale_client.py acked URL KIND OUT SECONDS CONCURRENCY ARG...
      Sends votes (KIND=vote, ARG: POLL TOKENS, each vote from the next signed-in voter) or
      open-pixel hits (KIND=open, ARG: PATHS, with the delivery ids in PATHS.ids) for
      SECONDS, and writes to OUT, as each success is answered, what must now be stored (the
      SHA-256 of the voter's session, in hex; the delivery id); prints the answers by status as JSON. Refused
      connections and errors are counted, not fatal: the server may be killed under it.
"""

import asyncio
import hashlib
import json
import re
import sys
import time
from collections import Counter
from urllib.parse import urlencode, urlsplit

CSRF = re.compile(r'name="csrf" value="([^"]*)"')
SESSION_COOKIE = "clientvars"


async def request(url, method="GET", path="/", headers=None, form=None, timeout=60):
    """One request on a connection of its own: (status, headers as a list of pairs, body)."""
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    body = urlencode(form).encode() if form is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    if form is not None:
        lines += ["Content-Type: application/x-www-form-urlencoded", "Sec-Fetch-Site: same-origin"]
        lines.append(f"Origin: http://{host}:{port}")
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def go():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(raw)
            await writer.drain()
            data = await reader.read(-1)
        finally:
            writer.close()
        return data

    data = await asyncio.wait_for(go(), timeout)
    if not data:
        raise ConnectionAbortedError("the connection closed without an answer")
    head, _, rest = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1])
    hdrs = []
    for line in head_lines[1:]:
        k, _, v = line.partition(":")
        hdrs.append((k.strip().lower(), v.strip()))
    if ("transfer-encoding", "chunked") in hdrs:
        out = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        rest = out
    return status, hdrs, rest


def header(hdrs, name):
    return next((v for k, v in hdrs if k == name), None)


def set_cookie(hdrs, name):
    for k, v in hdrs:
        if k == "set-cookie" and v.startswith(name + "="):
            return v.split(";")[0].split("=", 1)[1]
    return None


def csrf_of(body):
    m = CSRF.search(body.decode("utf-8", "replace"))
    return m.group(1) if m else None


def address(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


async def votes(url, poll, tokens_file, tries, concurrency):
    tokens = [t for t in open(tokens_file).read().split() if t]
    gate = asyncio.Semaphore(concurrency)
    by_status, by_instance, errors = Counter(), Counter(), Counter()

    # Each browser opens the poll first: its form token is bound to its session.
    options = {}

    async def open_poll(i, tok):
        async with gate:
            status, _, body = await request(
                url,
                "GET",
                f"/polls/{poll}",
                {"Cookie": f"{SESSION_COOKIE}={tok}", "X-Forwarded-For": address(i)},
            )
        if status != 200:
            raise SystemExit(f"GET /polls/{poll} answered {status}")
        text = body.decode()
        if not options:
            options["ids"] = re.findall(r'name="option" value="(\d+)"', text)
        return csrf_of(body)

    start = time.monotonic()
    csrfs = await asyncio.gather(*(open_poll(i, t) for i, t in enumerate(tokens)))
    opened = time.monotonic() - start
    if not options.get("ids") or None in csrfs:
        raise SystemExit("the poll page showed no form to a signed-in voter")
    ids = options["ids"]
    # Every browser's tries go out one after another, so round robin sends them to different
    # instances at the same moment.
    jobs = []
    for i, (tok, csrf) in enumerate(zip(tokens, csrfs)):
        for k in range(tries):
            jobs.append((i, tok, csrf, ids[(i + k) % len(ids)]))

    async def vote(i, tok, csrf, option):
        async with gate:
            try:
                status, hdrs, _ = await request(
                    url,
                    "POST",
                    f"/polls/{poll}/vote",
                    {"Cookie": f"{SESSION_COOKIE}={tok}", "X-Forwarded-For": address(i)},
                    {"csrf": csrf, "option": option, "return_to": f"/polls/{poll}"},
                )
            except Exception as e:
                errors[type(e).__name__] += 1
                return
            by_status[status] += 1
            by_instance[header(hdrs, "x-upstream") or "?"] += 1

    start = time.monotonic()
    await asyncio.gather(*(vote(*j) for j in jobs))
    took = time.monotonic() - start
    print(
        json.dumps(
            {
                "browsers": len(tokens),
                "votes_sent": len(jobs),
                "by_status": {str(k): v for k, v in sorted(by_status.items())},
                "by_instance": dict(sorted(by_instance.items())),
                "errors": dict(errors),
                "open_seconds": round(opened, 2),
                "vote_seconds": round(took, 2),
                "votes_per_second": round(len(jobs) / took),
            }
        )
    )


async def signed_in(url, cookie):
    status, _, _ = await request(url, "GET", "/account", {"Cookie": f"{SESSION_COOKIE}={cookie}"})
    return status == 200


async def sessions(nginx, a, b, c, email, password, limited):
    failures = []

    def expect(ok, what):
        print(("ok      " if ok else "BROKEN  ") + what)
        if not ok:
            failures.append(what)

    status, hdrs, body = await request(a, "GET", "/account/sign-in")
    csrf = csrf_of(body)
    status, hdrs, body = await request(
        a,
        "POST",
        "/account/sign-in",
        form={"csrf": csrf, "email": email, "password": password, "return_to": "/account"},
    )
    cookie = set_cookie(hdrs, SESSION_COOKIE)
    expect(status == 303 and cookie is not None, f"sign-in on instance A answered {status} with a session")
    if cookie is None:
        sys.exit(1)
    for name, url in (("A", a), ("B", b), ("C", c)):
        expect(await signed_in(url, cookie), f"the session made on A works on {name}")
    through = [await signed_in(nginx, cookie) for _ in range(6)]
    expect(all(through), f"the session works through nginx on 6 requests in a row ({sum(through)}/6)")
    status, _, body = await request(b, "GET", "/account", {"Cookie": f"{SESSION_COOKIE}={cookie}"})
    csrf = csrf_of(body)
    status, hdrs, _ = await request(
        b, "POST", "/account/sign-out", {"Cookie": f"{SESSION_COOKIE}={cookie}"}, {"csrf": csrf}
    )
    expect(status == 303, f"sign-out on B answered {status}")
    for name, url in (("A", a), ("B", b), ("C", c)):
        expect(not await signed_in(url, cookie), f"after sign-out on B, the session is over on {name}")

    # Rate limits: failures through nginx from one address, round robin over the instances.
    limit = 10
    _, _, body = await request(nginx, "GET", "/account/sign-in")
    csrf = csrf_of(body)
    answers = []
    for _ in range(limit + 3):
        status, hdrs, _ = await request(
            nginx,
            "POST",
            "/account/sign-in",
            {"X-Forwarded-For": "203.0.113.7"},
            {"csrf": csrf, "email": limited, "password": "not the password", "return_to": "/"},
        )
        answers.append((status, header(hdrs, "x-upstream") or "?"))
    seen = Counter(u for s, u in answers[:limit])
    print(f"        sign-in failures by instance before the refusal: {dict(seen)}")
    expect(
        [s for s, _ in answers[:limit]] == [422] * limit,
        f"the first {limit} wrong passwords are answered 422 ({[s for s, _ in answers[:limit]]})",
    )
    expect(
        [s for s, _ in answers[limit:]] == [429] * 3,
        f"the next 3 are refused with 429 ({[s for s, _ in answers[limit:]]})",
    )
    expect(max(seen.values()) < limit, f"no instance alone saw {limit} failures (most: {max(seen.values())})")
    if failures:
        sys.exit(1)


async def acked(url, kind, out, seconds, concurrency, args):
    """Keep CONCURRENCY requests going for SECONDS; log each success as it is answered."""
    by_status, errors = Counter(), Counter()
    deadline = time.monotonic() + seconds
    log = open(out, "w", buffering=1)
    lines = [p for p in open(args[-1]).read().split() if p]
    ids = [i for i in open(args[-1] + ".ids").read().split()] if kind == "open" else []
    counter = [0]

    async def vote(n):
        # A signed-in voter of their own: the vote is found by account afterwards.
        if n >= len(lines):
            return None, None
        cookie = {"Cookie": f"{SESSION_COOKIE}={lines[n]}"}
        status, _, body = await request(url, "GET", f"/polls/{args[0]}", cookie, timeout=10)
        if status != 200:
            return status, None
        option = re.findall(r'name="option" value="(\d+)"', body.decode())[0]
        status, _, _ = await request(
            url,
            "POST",
            f"/polls/{args[0]}/vote",
            cookie,
            {"csrf": csrf_of(body), "option": option, "return_to": "/"},
            timeout=10,
        )
        return status, hashlib.sha256(lines[n].encode()).hexdigest() if status == 303 else None

    async def pixel(n):
        status, _, _ = await request(url, "GET", lines[n % len(lines)], timeout=10)
        return status, ids[n % len(ids)] if status == 200 else None

    async def worker():
        while time.monotonic() < deadline:
            n = counter[0]
            counter[0] += 1
            try:
                status, line = await (vote(n) if kind == "vote" else pixel(n))
            except Exception as e:  # refused or cut off: the server may be down or killed
                errors[type(e).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            if status is None:
                break
            by_status[status] += 1
            if line:
                log.write(line + "\n")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    log.close()
    print(json.dumps({"by_status": {str(k): v for k, v in sorted(by_status.items())}, "errors": dict(errors)}))


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == "votes":
        tries = int(args[3]) if len(args) > 3 else 5
        conc = int(args[4]) if len(args) > 4 else 500
        asyncio.run(votes(args[0], args[1], args[2], tries, conc))
    elif what == "sessions":
        asyncio.run(sessions(*args[:7]))
    elif what == "acked":
        seconds = float(args[3]) if len(args) > 3 else 10
        conc = int(args[4]) if len(args) > 4 else 32
        asyncio.run(acked(args[0], args[1], args[2], seconds, conc, args[5:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
