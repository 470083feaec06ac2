"""Helpers for bench/scale.sh and faults/*: seeding a PostgreSQL or SQLite database that
`candour migrate` made, and counting what it holds afterwards. PostgreSQL through psql,
SQLite through the sqlite3 module.

  scale_seed.py DB_URL polls                 a poll for signed-in voters (printed first) and
                                             a poll open to anyone (printed second)
  scale_seed.py DB_URL voters N FROM OUT     N verified accounts voterI@example.org with the
                                             password hash of account FROM (if there is
                                             one), each signed in:
                                             OUT gets one session cookie value a line
  scale_seed.py DB_URL people N              N people who agreed to news by email
  scale_seed.py DB_URL campaign NAME         a campaign to them, due now, about 1.5 KiB a
                                             message; prints its id
  scale_seed.py DB_URL wait NAME [SECONDS]   wait until that campaign is marked sent
  scale_seed.py DB_URL report NAME           its deliveries by state, copies handed over,
                                             and how many times it was marked sent
  scale_seed.py DB_URL tracked N OUT         N sent, tracked deliveries of a sent campaign:
                                             OUT gets one signed open-pixel path a line,
                                             OUT.ids the delivery ids in the same order
  scale_seed.py DB_URL sql 'SELECT …'        one query's rows, fields joined by |
  scale_seed.py DB_URL voted POLL            the sessions (SHA-256 in hex) of the accounts
                                             whose vote in POLL is stored
"""

import base64
import hashlib
import os
import sqlite3
import subprocess
import sys
import time

from tracking_seed import token as tracking_token

LINK = "https://www.northmoor.police.example/news/spring"
BODY = (
    "Hello {{name}},\n\n"
    + (
        "Our neighbourhood teams spent the spring on the roads around the villages, where "
        "people told us speeding worried them most. We held twelve speed checks and spoke "
        "with two hundred drivers.\n\n"
    )
    * 6
    + f"[Read more about this]({LINK})\n\n[Choose what you get]({{{{preferences_url}}}})\n"
)


def is_sqlite(url):
    return url.startswith("sqlite://")


def psql(url, sql):
    return subprocess.run(
        ["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1"],
        input=sql,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def rows(url, sql):
    if is_sqlite(url):
        c = sqlite3.connect(url[len("sqlite://"):], timeout=30)
        try:
            return [tuple(str(v) for v in r) for r in c.execute(sql).fetchall()]
        finally:
            c.close()
    return [tuple(line.split("|")) for line in psql(url, sql).splitlines() if line]


def q(s):
    return "'" + s.replace("'", "''") + "'"


def polls(url):
    """Two open polls; a trigger counts each time a campaign is marked sent (PostgreSQL)."""
    for voters, question in (
        ("per-account", "Which road should get the next speed check?"),
        ("per-browser", "Should the station counter open on Saturdays?"),
    ):
        if is_sqlite(url):
            c = sqlite3.connect(url[len("sqlite://"):])
            t = int(time.time())
            cur = c.execute(
                "INSERT INTO polls (question, opens_at, results, created_at, voters)"
                " VALUES (?, ?, 'after-voting', ?, ?)",
                (question, t - 3600, t, voters),
            )
            pid = cur.lastrowid
            for i, label in enumerate(("Yes", "No", "Not sure")):
                c.execute(
                    "INSERT INTO poll_options (poll_id, position, label) VALUES (?, ?, ?)",
                    (pid, i, label),
                )
            c.commit()
        else:
            pid = psql(
                url,
                "INSERT INTO polls (question, opens_at, results, created_at, voters) VALUES"
                f" ({q(question)}, now() - interval '1 hour', 'after-voting', now(),"
                f" {q(voters)}) RETURNING id",
            ).split()[0]
            psql(
                url,
                "INSERT INTO poll_options (poll_id, position, label) VALUES"
                f" ({pid}, 0, 'Yes'), ({pid}, 1, 'No'), ({pid}, 2, 'Not sure')",
            )
        print(pid)
    if not is_sqlite(url):
        psql(
            url,
            """
            CREATE TABLE IF NOT EXISTS bench_sent_marks (campaign_id bigint, at timestamptz);
            CREATE OR REPLACE FUNCTION bench_count_sent() RETURNS trigger AS $$
            BEGIN
                INSERT INTO bench_sent_marks VALUES (NEW.id, clock_timestamp());
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS bench_count_sent ON campaigns;
            CREATE TRIGGER bench_count_sent AFTER UPDATE ON campaigns
                FOR EACH ROW WHEN (NEW.state = 'sent') EXECUTE FUNCTION bench_count_sent();
            """,
        )


def voters(url, n, source, out):
    tokens = [base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode() for _ in range(n)]
    hashes = [hashlib.sha256(t.encode()).digest() for t in tokens]
    if is_sqlite(url):
        c = sqlite3.connect(url[len("sqlite://"):], timeout=30)
        t = int(time.time())
        row = c.execute("SELECT password_hash FROM accounts WHERE email = ?", (source,)).fetchone()
        password = row[0] if row else "none"
        for i, h in enumerate(hashes):
            cur = c.execute(
                "INSERT INTO accounts (email, email_verified, password_hash, created_at)"
                " VALUES (?, 1, ?, ?)",
                (f"voter{i + 1}@example.org", password, t),
            )
            c.execute(
                "INSERT INTO sessions (hash, account_id, created_at, last_seen_at)"
                " VALUES (?, ?, ?, ?)",
                (h, cur.lastrowid, t, t),
            )
        c.commit()
    else:
        values = ",".join(f"({i + 1}, '\\x{h.hex()}'::bytea)" for i, h in enumerate(hashes))
        psql(
            url,
            f"""
            INSERT INTO accounts (email, email_verified, password_hash, created_at)
            SELECT 'voter' || i || '@example.org', true, coalesce(
                (SELECT password_hash FROM accounts WHERE email = {q(source)}), 'none'), now()
            FROM generate_series(1, {n}) AS i;
            INSERT INTO sessions (hash, account_id, created_at, last_seen_at)
            SELECT v.hash, a.id, now(), now()
            FROM (VALUES {values}) AS v (i, hash)
            JOIN accounts a ON a.email = 'voter' || v.i || '@example.org';
            """,
        )
    with open(out, "w") as f:
        f.write("\n".join(tokens) + "\n")


def people(url, n):
    psql(
        url,
        f"""
        INSERT INTO people (email, name, source, created_at, updated_at)
        SELECT 'person' || i || '@example.org', 'Person ' || i, 'staff', now(), now()
        FROM generate_series(1, {n}) AS i;
        INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
        SELECT id, 'news', 'email', true, now(), 'preferences' FROM people
        WHERE email LIKE 'person%';
        """,
    )


def campaign(url, name):
    print(
        psql(
            url,
            "INSERT INTO campaigns (name, subject, preheader, body, purpose, state,"
            " scheduled_at, links, created_at, updated_at) VALUES"
            f" ({q(name)}, 'Spring news for {{{{name}}}}', 'What your neighbourhood team did',"
            f" {q(BODY)}, 'news', 'scheduled', now(), ARRAY[{q(LINK)}], now(), now())"
            " RETURNING id",
        ).split()[0]
    )


def wait(url, name, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = rows(url, f"SELECT state FROM campaigns WHERE name = {q(name)}")
        if r and r[0][0] == "sent":
            return
        time.sleep(0.1)
    sys.exit(f"campaign {name} not marked sent within {seconds} s")


def report(url, name):
    cid = rows(url, f"SELECT id FROM campaigns WHERE name = {q(name)}")[0][0]
    states = rows(
        url,
        f"SELECT state, count(*) FROM deliveries WHERE campaign_id = {cid} GROUP BY state"
        " ORDER BY state",
    )
    extra = rows(
        url,
        "SELECT coalesce(sum(handed_over), 0), count(*) FILTER (WHERE handed_over > 1),"
        f" coalesce(sum(reclaimed), 0) FROM deliveries WHERE campaign_id = {cid}",
    )[0]
    marks = rows(url, f"SELECT count(*) FROM bench_sent_marks WHERE campaign_id = {cid}")[0][0]
    print(
        " ".join(f"{s}={n}" for s, n in states)
        + f" handed_over={extra[0]} possible_duplicates={extra[1]} reclaimed={extra[2]}"
        + f" marked_sent={marks}"
    )


def tracked(url, n, out):
    """N sent, tracked deliveries: OUT gets their open-pixel paths, OUT.ids their ids."""
    if is_sqlite(url):
        c = sqlite3.connect(url[len("sqlite://"):], timeout=30)
        t = int(time.time())
        c.executescript(
            f"""
            WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
            INSERT INTO people (email, name, source, created_at, updated_at)
            SELECT 'tracked' || i || '@example.org', '', 'staff', {t}, {t} FROM k;
            INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
            SELECT id, 'email-tracking', NULL, 1, {t}, 'preferences' FROM people
            WHERE email LIKE 'tracked%';
            INSERT INTO campaigns (name, subject, body, purpose, state, links, created_at,
                updated_at, started_at, finished_at)
            VALUES ('Tracked', 'News', 'Read [this](https://www.example.org/news)', 'news',
                'sent', '["https://www.example.org/news"]', {t}, {t}, {t}, {t});
            INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at,
                sent_at, tracked)
            SELECT (SELECT id FROM campaigns WHERE name = 'Tracked'), id, 'sent', {t - 3600},
                {t - 3600}, {t - 3600}, 1 FROM people WHERE email LIKE 'tracked%';
            """
        )
        c.commit()
        c.close()
    else:
        psql(
            url,
            f"""
            INSERT INTO people (email, name, source, created_at, updated_at)
            SELECT 'tracked' || i || '@example.org', '', 'staff', now(), now()
            FROM generate_series(1, {n}) AS i;
            INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
            SELECT id, 'email-tracking', NULL, true, now(), 'preferences' FROM people
            WHERE email LIKE 'tracked%';
            INSERT INTO campaigns (name, subject, body, purpose, state, links, created_at,
                updated_at, started_at, finished_at)
            VALUES ('Tracked', 'News', 'Read [this](https://www.example.org/news)', 'news',
                'sent', ARRAY['https://www.example.org/news'], now(), now(), now(), now());
            INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at,
                sent_at, tracked)
            SELECT (SELECT id FROM campaigns WHERE name = 'Tracked'), id, 'sent',
                now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour',
                true FROM people WHERE email LIKE 'tracked%';
            """,
        )
    if is_sqlite(url):
        key = rows_raw(url, "SELECT key FROM server_keys WHERE name = 'signer'")[0][0]
    else:
        key = bytes.fromhex(
            psql(url, "SELECT encode(key, 'hex') FROM server_keys WHERE name = 'signer'")
        )
    cid = int(rows(url, "SELECT id FROM campaigns WHERE name = 'Tracked'")[0][0])
    issued = int(time.time()) - 3600
    ids = [int(r[0]) for r in rows(url, f"SELECT id FROM deliveries WHERE campaign_id = {cid} ORDER BY id")]
    with open(out, "w") as f, open(out + ".ids", "w") as g:
        for d in ids:
            f.write(f"/t/o/{tracking_token(key, b'campaign-open', cid, d, 0, issued)}\n")
            g.write(f"{d}\n")


def rows_raw(url, sql):
    c = sqlite3.connect(url[len("sqlite://"):], timeout=30)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def main():
    url, what, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if what == "polls":
        polls(url)
    elif what == "voters":
        voters(url, int(args[0]), args[1], args[2])
    elif what == "people":
        people(url, int(args[0]))
    elif what == "campaign":
        campaign(url, args[0])
    elif what == "wait":
        wait(url, args[0], float(args[1]) if len(args) > 1 else 3600)
    elif what == "report":
        report(url, args[0])
    elif what == "tracked":
        tracked(url, int(args[0]), args[1])
    elif what == "voted":
        hexed = "lower(hex(s.hash))" if is_sqlite(url) else "encode(s.hash, 'hex')"
        for r in rows(
            url,
            f"SELECT {hexed} FROM poll_votes v JOIN sessions s ON s.account_id = v.account_id"
            f" WHERE v.poll_id = {int(args[0])}",
        ):
            print(r[0])
    elif what == "sql":
        for r in rows(url, args[0]):
            print("|".join(r))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
