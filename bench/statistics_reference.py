"""DuckDB and chDB (ClickHouse in-process) answering the dashboard's panels from raw events.

Loads the events file into each engine's own table (DuckDB in memory; chDB's MergeTree,
ordered by time as Plausible orders its events), then answers each panel of the dashboard for
the 30-day range ROUNDS times and prints one JSON line per engine and panel:
    {"engine": "duckdb", "panel": "pages", "p50_ms": …, "p95_ms": …}
The definitions are Candour's: visitors are distinct visitors per UTC day, added over the
days of the range (a visitor's day hash dies with its day), and a page's (and the site's)
visitors are those with a page view or an event on it (an event names the page it happened
on: a visit that crosses midnight may begin the new day with an event); a visit is a visitor's run of
hits with no gap over 30 minutes; a bounce is a visit of one page view; a visit's duration is
from its first hit to its last; the entry and exit pages and the source are the visit's first
and last page and its first hit's referrer or UTM tags.

With --answers FILE it also writes DuckDB's answer to two questions for the agreement check
(the whole site's visitors, visits and page views, and page views and visitors per page):
    site<TAB>visitors<TAB>visits<TAB>pageviews
    page<TAB>path<TAB>pageviews<TAB>visitors

    venv/bin/python bench/statistics_reference.py EVENTS.tsv FROM_TS TO_TS ROUNDS [--answers FILE] [--engines duckdb,chdb]
"""

import json
import sys
import time

TOP = 10

# Each visit's first and last hit, from the page views of the range, in the dialect both
# engines read: window functions over (day, visitor) ordered by time.
VISITS = """
WITH pv AS (
    SELECT ts, visitor, path, referrer, utm_source, utm_medium, utm_campaign,
           browser, os, device, country, intDiv(ts, 86400) AS day
    FROM events WHERE kind = 'pageview' AND ts >= {lo} AND ts < {hi}
), marked AS (
    SELECT *, CASE WHEN ts - lagInFrame(ts, 1, 0) OVER w > 1800 THEN 1 ELSE 0 END AS starts
    FROM pv WINDOW w AS (PARTITION BY day, visitor ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
), numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY day, visitor ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit
    FROM marked
)
"""

# The visits, one row each: day, visitor, entry, exit, source, pages, seconds.
VISIT_ROWS = VISITS + """
, visits AS (
    SELECT day, visitor, visit,
           argMin(path, ts) AS entry, argMax(path, ts) AS exit_page,
           argMin(referrer, ts) AS referrer, argMin(utm_source, ts) AS utm_source,
           argMin(utm_medium, ts) AS utm_medium, argMin(utm_campaign, ts) AS utm_campaign,
           argMin(browser, ts) AS browser, argMin(os, ts) AS os,
           argMin(device, ts) AS device, argMin(country, ts) AS country,
           count(*) AS pages, max(ts) - min(ts) AS seconds
    FROM numbered GROUP BY day, visitor, visit
)
"""


def visit_dimension(column):
    return VISIT_ROWS + f"""
SELECT {column} AS value, count(DISTINCT (day, visitor)) AS visitors, count(*) AS visits
FROM visits WHERE {column} <> '' GROUP BY value ORDER BY visitors DESC, value LIMIT {TOP}
"""


# Each panel is one query or more, timed together: the headline figures come with the
# daily series, as the dashboard shows them.
PANELS = {
    "summary": [
        VISIT_ROWS + """
SELECT count(DISTINCT (day, visitor)) AS visitors, count(*) AS visits, sum(pages) AS pageviews,
       sum(CASE WHEN pages = 1 THEN 1 ELSE 0 END) / count(*) AS bounce_rate,
       sum(seconds) / count(*) AS visit_seconds
FROM visits
""",
        VISIT_ROWS + """
SELECT day, count(DISTINCT visitor) AS visitors, count(*) AS visits, sum(pages) AS pageviews
FROM visits GROUP BY day ORDER BY day
""",
    ],
    "pages": [
        f"""
SELECT path, sum(CASE WHEN kind = 'pageview' THEN 1 ELSE 0 END) AS pageviews,
       count(DISTINCT (intDiv(ts, 86400), visitor)) AS visitors
FROM events WHERE ts >= {{lo}} AND ts < {{hi}}
GROUP BY path ORDER BY visitors DESC, path LIMIT {TOP}
"""
    ],
    "entry_pages": [visit_dimension("entry")],
    "exit_pages": [visit_dimension("exit_page")],
    # A visit's source: its referrer's host, else its utm_source, else none.
    "sources": [visit_dimension("CASE WHEN referrer <> '' THEN referrer WHEN utm_source <> '' THEN utm_source ELSE '(direct)' END")],
    "utm_sources": [visit_dimension("utm_source")],
    "utm_mediums": [visit_dimension("utm_medium")],
    "utm_campaigns": [visit_dimension("utm_campaign")],
    "browsers": [visit_dimension("browser")],
    "os": [visit_dimension("os")],
    "devices": [visit_dimension("device")],
    "countries": [visit_dimension("country")],
    "events": [
        f"""
SELECT name, count(*) AS events, count(DISTINCT (intDiv(ts, 86400), visitor)) AS visitors
FROM events WHERE kind = 'event' AND ts >= {{lo}} AND ts < {{hi}}
GROUP BY name ORDER BY visitors DESC, name LIMIT {TOP}
"""
    ],
}

ANSWER_SITE = """
SELECT count(DISTINCT (intDiv(ts, 86400), visitor)), sum(CASE WHEN kind = 'pageview' THEN 1 ELSE 0 END)
FROM events WHERE ts >= {lo} AND ts < {hi}
"""
ANSWER_PAGES = """
SELECT path, sum(CASE WHEN kind = 'pageview' THEN 1 ELSE 0 END), count(DISTINCT (intDiv(ts, 86400), visitor))
FROM events WHERE ts >= {lo} AND ts < {hi} GROUP BY path ORDER BY path
"""

COLUMNS = """ts BIGINT, visitor BIGINT, kind VARCHAR, name VARCHAR, path VARCHAR, referrer VARCHAR,
utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, browser VARCHAR, os VARCHAR,
device VARCHAR, country VARCHAR"""


class Duck:
    name = "duckdb"

    def __init__(self, events):
        import duckdb

        self.db = duckdb.connect()
        # ClickHouse's spelling of integer division, so one text serves both engines.
        self.db.execute("CREATE MACRO intDiv(a, b) AS a // b")
        cols = {c.split()[0]: c.split()[1] for c in COLUMNS.replace("\n", " ").split(", ")}
        self.db.execute(
            f"CREATE TABLE events AS SELECT * FROM read_csv(?, delim='\t', header=true, quote='', escape='', columns={cols!r})",
            [events],
        )

    def query(self, sql):
        # DuckDB's names for ClickHouse's window lag and arg-min/max.
        sql = sql.replace("lagInFrame(ts, 1, 0) OVER w", "coalesce(lag(ts, 1) OVER w, 0)")
        sql = sql.replace("argMin(", "arg_min(").replace("argMax(", "arg_max(")
        return self.db.execute(sql).fetchall()


class Ch:
    name = "chdb"

    def __init__(self, events):
        from chdb import session

        self.s = session.Session()
        self.s.query("CREATE DATABASE IF NOT EXISTS bench")
        self.s.query("USE bench")
        cols = COLUMNS.replace("BIGINT", "Int64").replace("VARCHAR", "String")
        self.s.query(f"CREATE TABLE events ({cols}) ENGINE = MergeTree ORDER BY ts")
        self.s.query(f"INSERT INTO events SELECT * FROM file('{events}', 'TSVWithNames', '{cols}')")

    def query(self, sql):
        return self.s.query(sql, "TabSeparated").bytes()


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    events, lo, hi, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    args = sys.argv[5:]
    answers = args[args.index("--answers") + 1] if "--answers" in args else None
    engines = args[args.index("--engines") + 1].split(",") if "--engines" in args else ["duckdb", "chdb"]
    for kind in (Duck, Ch):
        if kind.name not in engines:
            continue
        start = time.perf_counter()
        engine = kind(events)
        print(f"{kind.name}: loaded the events in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        whole = [0.0] * rounds
        for panel, queries in PANELS.items():
            queries = [q.format(lo=lo, hi=hi) for q in queries]
            for q in queries:
                engine.query(q)  # once to warm up
            times = []
            for r in range(rounds):
                t = time.perf_counter()
                for q in queries:
                    engine.query(q)
                times.append((time.perf_counter() - t) * 1000)
                whole[r] += times[-1]
            print(json.dumps({"engine": kind.name, "panel": panel, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)}), flush=True)
        print(json.dumps({"engine": kind.name, "panel": "dashboard", "p50_ms": percentile(whole, 50), "p95_ms": percentile(whole, 95)}), flush=True)
        if answers and kind is Duck:
            with open(answers, "w", encoding="utf-8") as f:
                visitors, pageviews = engine.query(ANSWER_SITE.format(lo=lo, hi=hi))[0]
                visits = engine.query(PANELS["summary"][0].format(lo=lo, hi=hi))[0][1]
                f.write(f"site\t{visitors}\t{visits}\t{pageviews}\n")
                for path, views, people in engine.query(ANSWER_PAGES.format(lo=lo, hi=hi)):
                    f.write(f"page\t{path}\t{views}\t{people}\n")
        del engine


if __name__ == "__main__":
    main()
