#!/usr/bin/env python3
"""How long queuing a large audience takes, and whether it holds up other sending.

One instance sends a small campaign (20,000 people interested in roads) at a steady 200
messages a second to an SMTP sink; a campaign to everyone (N people, 1,000,000 by default)
then falls due. Printed per round: the seconds from its start until its whole audience is
queued, and the longest gap between two messages of the other campaign at the sink while it
was being queued, beside the longest gap in the seconds before (the steady pace is 5 ms).

Usage: bench/queue_audience.py sqlite|postgres [N] [ROUNDS]
PostgreSQL: $PG_URL (default postgres://postgres@127.0.0.1:5432), a database is made and
dropped per round. The binary is $CANDOUR_BIN (default target/release/candour).
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))
import harness  # noqa: E402

OTHER = 20_000


def psql(url, sql):
    return subprocess.run(["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


class Db:
    def __init__(self, backend, url, path):
        self.backend, self.url, self.path = backend, url, path

    def run(self, sql):
        if self.backend == "postgres":
            out = psql(self.url, sql)
            return [tuple(line.split("|")) for line in out.splitlines() if line]
        import sqlite3
        c = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            c.execute("PRAGMA busy_timeout = 60000")
            rows = []
            for statement in [s for s in sql.split(";") if s.strip()]:
                rows = c.execute(statement).fetchall()
            return rows
        finally:
            c.close()

    def seed(self, n):
        body = harness.BODY.replace("'", "''")
        if self.backend == "postgres":
            self.run(f"""
                INSERT INTO people (email, name, source, created_at, updated_at, interests)
                SELECT 'p' || i || '@example.org', 'P' || i, 'staff', now(), now(),
                    CASE WHEN i <= {OTHER} THEN ARRAY['roads'] ELSE '{{}}'::text[] END
                FROM generate_series(1, {n}) AS i;
                INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
                SELECT id, 'news', 'email', true, now() - interval '1 minute', 'preferences'
                FROM people;
                INSERT INTO campaigns (name, subject, body, purpose, interests, state,
                    scheduled_at, links, created_at, updated_at)
                VALUES ('Other', 'Other', '{body}', 'news', ARRAY['roads'], 'scheduled', now(),
                    ARRAY['https://example.org/news'], now(), now()),
                    ('Everyone', 'Everyone', '{body}', 'news', '{{}}', 'scheduled',
                    now() + interval '1 day', ARRAY['https://example.org/news'], now(), now());
                ANALYZE""")
        else:
            t = int(time.time()) - 60
            self.run(f"""
                WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
                INSERT INTO people (email, name, source, created_at, updated_at, interests)
                SELECT 'p' || i || '@example.org', 'P' || i, 'staff', {t}, {t},
                    CASE WHEN i <= {OTHER} THEN 'roads' ELSE '' END FROM k;
                INSERT INTO consent_events (person_id, purpose, channel, granted, at, method)
                SELECT id, 'news', 'email', 1, {t}, 'preferences' FROM people;
                INSERT INTO campaigns (name, subject, body, purpose, interests, state,
                    scheduled_at, links, created_at, updated_at)
                VALUES ('Other', 'Other', '{body}', 'news', 'roads', 'scheduled', {t},
                    '["https://example.org/news"]', {t}, {t}),
                    ('Everyone', 'Everyone', '{body}', 'news', '', 'scheduled', {t + 86400},
                    '["https://example.org/news"]', {t}, {t});
                ANALYZE""")

    def make_due(self):
        if self.backend == "postgres":
            self.run("UPDATE campaigns SET scheduled_at = now() WHERE name = 'Everyone'")
        else:
            self.run(f"UPDATE campaigns SET scheduled_at = {int(time.time())} "
                     "WHERE name = 'Everyone'")

    def everyone(self):
        """(state, still queuing)"""
        rows = self.run("SELECT c.state, (SELECT count(*) FROM campaign_queuing q "
                        "WHERE q.campaign_id = c.id) FROM campaigns c WHERE name = 'Everyone'")
        return rows[0][0], int(rows[0][1])

    def queued(self):
        return int(self.run("SELECT count(*) FROM deliveries d JOIN campaigns c "
                            "ON c.id = d.campaign_id WHERE c.name = 'Everyone'")[0][0])


def one_round(backend, n):
    base = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432")
    name = f"candour_queue_bench_{os.getpid()}"
    url = None
    if backend == "postgres":
        psql(base + "/postgres", f"DROP DATABASE IF EXISTS {name}")
        psql(base + "/postgres", f"CREATE DATABASE {name}")
        url = f"{base}/{name}"
    sink = harness.Sink()
    app = harness.Candour(sink, database_url=url, rate_per_second=200, batch_size=200)
    db = Db(backend, url or app.database_url, app.db)
    t = time.monotonic()
    db.seed(n)
    print(f"  seeded {n} people in {time.monotonic() - t:.1f} s", flush=True)
    app.start()
    while len(sink.kept) < 600:  # three seconds of steady sending
        time.sleep(0.01)
    before = time.monotonic()
    db.make_due()
    while db.everyone()[0] != "sending":
        time.sleep(0.01)
    started = time.monotonic()
    while db.everyone()[1] != 0:
        time.sleep(0.02)
    done = time.monotonic()
    queued = db.queued()
    with sink.lock:
        arrivals = [at for at, _ in sink.kept]

    def longest(lo, hi):
        inside = [a for a in arrivals if lo <= a <= hi]
        return max((b - a for a, b in zip(inside, inside[1:])), default=0)

    steady = longest(before - 3, before)
    stall = longest(started, done)
    app.term(60)
    if backend == "postgres":
        psql(base + "/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return done - started, stall, steady, queued


def main():
    backend = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    os.environ.setdefault("CANDOUR_BIN", os.path.join(os.path.dirname(HERE), "target",
                                                      "release", "candour"))
    results = []
    for r in range(rounds):
        took, stall, steady, queued = one_round(backend, n)
        print(f"round {r + 1}: queued {queued} in {took:.2f} s; longest gap in the other "
              f"campaign's sending while queuing {stall * 1000:.0f} ms (before: "
              f"{steady * 1000:.0f} ms)", flush=True)
        results.append((took, stall))
    took = sorted(r[0] for r in results)
    stall = sorted(r[1] for r in results)
    print(f"{backend}, {n} people, {rounds} rounds: queuing median {harness.median(took):.2f} s "
          f"({took[0]:.2f}-{took[-1]:.2f}); longest gap median "
          f"{harness.median(stall) * 1000:.0f} ms ({stall[0] * 1000:.0f}-{stall[-1] * 1000:.0f})")


if __name__ == "__main__":
    main()
