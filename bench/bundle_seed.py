"""Helpers for bench/bundle.sh, on SQLite (the sqlite3 module) or PostgreSQL (psql).

  bundle_seed.py DB_URL seed PEOPLE ROWS   PEOPLE people and ROWS related rows (consent
                                           events, form answers, campaign messages and their
                                           opens and clicks); person 1 holds 10,000 of them
  bundle_seed.py DB_URL select ROUNDS      the reference: the bare indexed SELECTs that read
                                           person 1's rows of every table the bundle reads,
                                           ROUNDS times; prints each round in milliseconds
  bundle_seed.py DB_URL file MIB           a case about person 2 with one added file of MIB
                                           MiB (random bytes); prints the case's id (made
                                           once: a second run finds it)
"""

import re
import sqlite3
import subprocess
import sys
import time

# Person 1's share of the 10,000 rows.
SUBJECT = {"consent_events": 4000, "form_responses": 3000, "deliveries": 1000, "tracking_events": 2000}
CAMPAIGNS = SUBJECT["deliveries"]
# Every table the data map lists with the column that finds a person (accounts' tables are
# read by account id; person 1 has no account, so they read nothing, as in the bundle).
PERSON_TABLES = [
    ("consent_events", "person_id"),
    ("form_responses", "person_id"),
    ("preference_links", "person_id"),
    ("consent_confirmations", "person_id"),
    ("deliveries", "person_id"),
    ("tracking_events", "person_id"),
    ("data_requests", "person_id"),
    ("data_request_waits", "person_id"),
    ("data_request_events", "person_id"),
    ("request_answers", "person_id"),
    ("request_files", "person_id"),
    ("request_withholdings", "person_id"),
    ("people", "id"),
    ("disclosure_people", "person_id"),
]
# Tables without an `id`: read in no order (the bundle orders their few rows by content).
UNORDERED = {"preference_links", "consent_confirmations", "data_request_waits", "request_answers",
             "disclosure_people"}
# The disclosures about the person, which the bundle lists beside their rows.
DISCLOSURES = ("SELECT d.* FROM disclosures d JOIN disclosure_people p ON p.disclosure_id = d.id "
               "WHERE p.person_id = 1 ORDER BY d.id")


def psql(url, sql):
    return subprocess.run(
        ["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def seed_sql(people, rows, sqlite):
    """The statements that fill the database; `rows` counts every related row."""
    other = max(rows - sum(SUBJECT.values()), 0)
    share = {"consent_events": other * 40 // 100, "form_responses": other * 30 // 100,
             "deliveries": other * 15 // 100}
    share["tracking_events"] = other - sum(share.values())
    others = people - 1
    now = "1780304400" if sqlite else "to_timestamp(1780304400)"
    true = "1" if sqlite else "true"
    if sqlite:
        series = lambda n: f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s)"
    else:
        series = lambda n: f"(SELECT i FROM generate_series(1, {n}) AS i)"
    links = "'[\"https://example.org/a\"]'" if sqlite else "ARRAY['https://example.org/a']"
    answers = "'[[\"q1\",\"I would like to hear about events near me, thank you\"],[\"q2\",\"yes\"]]'"
    sub = SUBJECT
    return [
        f"INSERT INTO people (email, name, source, created_at, updated_at) "
        f"SELECT 'person' || i || '@example.org', 'Person ' || i, 'staff', {now}, {now} FROM {series(people)} t",
        f"INSERT INTO forms (current_version, open, created_at) VALUES (1, {true}, {now})",
        f"INSERT INTO form_versions (form_id, version, definition, created_at) VALUES (1, 1, '{{}}', {now})",
        f"INSERT INTO campaigns (name, subject, preheader, body, purpose, state, scheduled_at, links, created_at, updated_at) "
        f"SELECT 'Bench ' || i, 'News', '', 'Hello', 'news', 'sent', {now}, {links}, {now}, {now} FROM {series(CAMPAIGNS)} t",
        # Person 1's rows.
        f"INSERT INTO consent_events (person_id, purpose, channel, granted, at, method) "
        f"SELECT 1, 'news', 'email', {true}, {now}, 'preferences' FROM {series(sub['consent_events'])} t",
        f"INSERT INTO form_responses (form_id, version, person_id, answers, submitted_at) "
        f"SELECT 1, 1, 1, {answers}, {now} FROM {series(sub['form_responses'])} t",
        f"INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at, sent_at, tracked) "
        f"SELECT i, 1, 'sent', {now}, {now}, {now}, {true} FROM {series(sub['deliveries'])} t",
        f"INSERT INTO tracking_events (delivery_id, campaign_id, person_id, kind, link, at, machine) "
        f"SELECT 1 + (i - 1) / 2, 1 + (i - 1) / 2, 1, CASE WHEN i % 2 = 0 THEN 'click' ELSE 'open' END, 0, {now}, {'0' if sqlite else 'false'} "
        f"FROM {series(sub['tracking_events'])} t",
        # Everyone else's.
        f"INSERT INTO consent_events (person_id, purpose, channel, granted, at, method) "
        f"SELECT 2 + i % {others}, 'news', 'email', {true}, {now}, 'preferences' FROM {series(share['consent_events'])} t",
        f"INSERT INTO form_responses (form_id, version, person_id, answers, submitted_at) "
        f"SELECT 1, 1, 2 + i % {others}, {answers}, {now} FROM {series(share['form_responses'])} t",
        f"INSERT INTO deliveries (campaign_id, person_id, state, queued_at, next_attempt_at, sent_at, tracked) "
        f"SELECT 1 + (i / {others}) % {CAMPAIGNS}, 2 + i % {others}, 'sent', {now}, {now}, {now}, {true} FROM {series(share['deliveries'])} t",
        f"INSERT INTO tracking_events (delivery_id, campaign_id, person_id, kind, link, at, machine) "
        f"SELECT 1, 1, 2 + i % {others}, 'open', 0, {now}, {'0' if sqlite else 'false'} FROM {series(share['tracking_events'])} t",
    ]


# The tables that take the millions of rows: their indexes are dropped while they fill and
# built again after (one sort each rather than ten million scattered inserts).
BIG = ["people", "consent_events", "form_responses", "deliveries", "tracking_events"]


def seed(url, people, rows):
    if url.startswith("sqlite://"):
        c = sqlite3.connect(url[len("sqlite://"):], isolation_level=None)
        # A throwaway database: no journal, no syncs, a large page cache.
        c.execute("PRAGMA journal_mode = OFF")
        c.execute("PRAGMA synchronous = OFF")
        c.execute("PRAGMA cache_size = -1000000")
        c.execute("PRAGMA temp_store = MEMORY")
        marks = ",".join("?" * len(BIG))
        indexes = c.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            BIG).fetchall()
        c.execute("BEGIN")
        for name, _ in indexes:
            c.execute(f'DROP INDEX "{name}"')
        for sql in seed_sql(people, rows, True):
            c.execute(sql)
        for _, sql in indexes:
            c.execute(sql)
        c.execute("COMMIT")
        c.execute("ANALYZE")
        c.close()
    else:
        tables = ",".join(f"'{t}'" for t in BIG)
        # Plain indexes only: those behind primary keys and unique constraints stay.
        indexes = psql(url, f"""SELECT i.indexname || '|' || i.indexdef FROM pg_indexes i
            WHERE i.schemaname = 'public' AND i.tablename IN ({tables})
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")
        indexes = [line.split("|", 1) for line in indexes.splitlines() if line]
        # The foreign keys' triggers are off while the generated rows (all valid) go in.
        script = ["SET session_replication_role = replica", "SET maintenance_work_mem = '512MB'",
                  "SET synchronous_commit = off", "BEGIN"]
        script += [f'DROP INDEX "{name}"' for name, _ in indexes]
        script += seed_sql(people, rows, False)
        script += [sql for _, sql in indexes]
        script += ["COMMIT", "ANALYZE"]
        psql(url, ";\n".join(script) + ";")


def select_rounds(url, rounds):
    queries = [f"SELECT * FROM {t} WHERE {c} = 1" + ("" if t in UNORDERED else " ORDER BY id")
               for t, c in PERSON_TABLES] + [DISCLOSURES]
    if url.startswith("sqlite://"):
        c = sqlite3.connect(url[len("sqlite://"):])
        for _ in range(rounds):
            start = time.perf_counter()
            n = sum(len(c.execute(q).fetchall()) for q in queries)
            print(f"round_ms {(time.perf_counter() - start) * 1000:.3f} rows {n}")
        return
    # psql times each statement on the server round trip; the rows are read and discarded.
    script = "\\timing on\n" + "".join(q + ";\n" for q in queries) * rounds
    out = subprocess.run(["psql", url, "-qAX", "-o", "/dev/null", "-v", "ON_ERROR_STOP=1"],
                         input=script, check=True, capture_output=True, text=True).stdout
    times = [float(m) for m in re.findall(r"Time: ([0-9.]+) ms", out)]
    per = len(queries)
    for r in range(rounds):
        print(f"round_ms {sum(times[r * per:(r + 1) * per]):.3f}")


def file_case(url, mib):
    """The case holding a file of `mib` MiB, made if there is none yet; its id."""
    name = f"Bench file {mib} MiB"
    size = mib * 1024 * 1024
    if url.startswith("sqlite://"):
        c = sqlite3.connect(url[len("sqlite://"):], isolation_level=None)
        found = c.execute("SELECT id FROM data_requests WHERE name = ?", (name,)).fetchone()
        if found:
            return found[0]
        c.execute("BEGIN")
        case = c.execute(
            "INSERT INTO data_requests (kind, status, name, email, details, elsewhere, person_id, submitted_at) "
            "VALUES ('access', 'in-progress', ?, 'person2@example.org', 'A copy, please', 0, 2, 1780304400) RETURNING id",
            (name,)).fetchone()[0]
        f = c.execute(
            "INSERT INTO request_files (request_id, person_id, name, bytes, added_by, added_at) "
            "VALUES (?, 2, 'letter.bin', ?, 1, 1780304400) RETURNING id", (case, size)).fetchone()[0]
        c.execute("INSERT INTO request_file_contents (file_id, content) VALUES (?, randomblob(?))", (f, size))
        c.execute("COMMIT")
        return case
    found = psql(url, f"SELECT id FROM data_requests WHERE name = '{name}'")
    if found:
        return int(found.splitlines()[0])
    # 16 bytes of an md5 per step: nothing the database could compress.
    return int(psql(url, f"""WITH q AS (
          INSERT INTO data_requests (kind, status, name, email, details, elsewhere, person_id, submitted_at)
          VALUES ('access', 'in-progress', '{name}', 'person2@example.org', 'A copy, please', false, 2,
                  to_timestamp(1780304400)) RETURNING id),
        f AS (
          INSERT INTO request_files (request_id, person_id, name, bytes, added_by, added_at)
          SELECT id, 2, 'letter.bin', {size}, 1, to_timestamp(1780304400) FROM q RETURNING id),
        c AS (
          INSERT INTO request_file_contents (file_id, content)
          SELECT f.id, (SELECT decode(string_agg(md5(i::text), ''), 'hex')
                        FROM generate_series(1, {size // 16}) AS i) FROM f)
        SELECT id FROM q""").splitlines()[0])


def main():
    url, what = sys.argv[1], sys.argv[2]
    if what == "seed":
        seed(url, int(sys.argv[3]), int(sys.argv[4]))
    elif what == "select":
        select_rounds(url, int(sys.argv[3]))
    elif what == "file":
        print(file_case(url, int(sys.argv[3])))
    else:
        sys.exit(f"unknown step {what}")


if __name__ == "__main__":
    main()
