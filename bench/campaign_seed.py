"""Helpers for bench/campaign.sh, on SQLite (the sqlite3 module) or PostgreSQL (psql).

  campaign_seed.py DB_URL N        N consenting people (half also to tracking) and one
                                   campaign due now, about 10 KiB per message
  campaign_seed.py DB_URL wait     wait until that campaign is marked sent
  campaign_seed.py DB_URL counts   its deliveries by state
"""

import sqlite3
import subprocess
import sys
import time

LINKS = [
    "https://www.northmoor.police.example/news/spring",
    "https://www.northmoor.police.example/appeals/42",
    "https://www.northmoor.police.example/advice/scams",
]

PARAGRAPH = (
    "Our neighbourhood teams spent the spring on the roads around the villages, where "
    "people told us speeding worried them most. We held twelve speed checks, spoke with "
    "two hundred drivers and met parish councils to agree where the next checks go. "
)


def body():
    parts = ["Hello {{name}},", ""]
    for i in range(16):
        parts.append(PARAGRAPH * 1)
        parts.append("")
        if i % 5 == 0:
            link = LINKS[(i // 5) % len(LINKS)]
            parts.append(f"[Read more about this]({link})")
            parts.append("")
    parts.append("[Choose what you get]({{preferences_url}})")
    return "\n".join(parts)


def sql_quote(s):
    return "'" + s.replace("'", "''") + "'"


def seed_sqlite(path, n):
    c = sqlite3.connect(path)
    t = int(time.time())
    c.executescript(
        f"""
        WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
        INSERT INTO people (email, name, source, created_at, updated_at)
        SELECT 'person' || i || '@example.org', 'Person ' || i, 'staff', {t}, {t} FROM k;
        INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
        SELECT id, 'news', 'email', 1, {t}, 'preferences' FROM people;
        INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
        SELECT id, 'email-tracking', NULL, 1, {t}, 'preferences' FROM people WHERE id % 2 = 0;
        """
    )
    links = "[" + ",".join('"' + l + '"' for l in LINKS) + "]"
    c.execute(
        "INSERT INTO campaigns (name, subject, preheader, body, purpose, state, scheduled_at,"
        " links, created_at, updated_at) VALUES ('Bench', 'Spring news for {{name}}',"
        " 'What your neighbourhood team did', ?, 'news', 'scheduled', ?, ?, ?, ?)",
        (body(), t, links, t, t),
    )
    c.commit()


def psql(url, sql):
    return subprocess.run(
        ["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def seed_postgres(url, n):
    links = "ARRAY[" + ",".join(sql_quote(l) for l in LINKS) + "]"
    psql(
        url,
        f"""
        INSERT INTO people (email, name, source, created_at, updated_at)
        SELECT 'person' || i || '@example.org', 'Person ' || i, 'staff', now(), now()
        FROM generate_series(1, {n}) AS i;
        INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
        SELECT id, 'news', 'email', true, now(), 'preferences' FROM people;
        INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
        SELECT id, 'email-tracking', NULL, true, now(), 'preferences' FROM people WHERE id % 2 = 0;
        INSERT INTO campaigns (name, subject, preheader, body, purpose, state, scheduled_at,
            links, created_at, updated_at)
        VALUES ('Bench', 'Spring news for {{{{name}}}}', 'What your neighbourhood team did',
            {sql_quote(body())}, 'news', 'scheduled', now(), {links}, now(), now());
        """,
    )


def query(url, sql):
    if url.startswith("sqlite://"):
        c = sqlite3.connect(url[len("sqlite://"):])
        return c.execute(sql).fetchall()
    out = psql(url, sql)
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def main():
    url, what = sys.argv[1], sys.argv[2]
    if what == "wait":
        while True:
            rows = query(url, "SELECT state FROM campaigns WHERE name = 'Bench'")
            if rows and rows[0][0] == "sent":
                return
            time.sleep(0.1)
    if what == "counts":
        rows = query(
            url,
            "SELECT d.state, count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id"
            " WHERE c.name = 'Bench' GROUP BY d.state ORDER BY d.state",
        )
        print(", ".join(f"{s} {n}" for s, n in rows))
        return
    n = int(what)
    if url.startswith("sqlite://"):
        seed_sqlite(url[len("sqlite://"):], n)
    else:
        seed_postgres(url, n)


main()
