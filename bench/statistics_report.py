"""The table and the checks of bench/statistics.sh, from the JSON lines its parts printed.

    python3 bench/statistics_report.py RESULTS.jsonl WORK_DIR SIZE...

Prints, per size, each panel's p50/p95 in ms for Candour on SQLite and on PostgreSQL, DuckDB
and chDB (the panels filtered by a page and by a referrer, `… [page /]`, for Candour alone),
then the whole dashboard's time per size, then compares Candour's answers with
DuckDB's (files `duckdb-SIZE.tsv`, `sqlite-SIZE.tsv`, `postgres-SIZE.tsv` in WORK_DIR): visitors
and page views exactly, visits within the documented difference (VISITS_TOLERANCE).
Exits 1 on a mismatch or a Candour panel whose p95 is 50 ms or more.
"""

import json
import os
import sys

ENGINES = ["candour-sqlite", "candour-postgres", "duckdb", "chdb"]
LIMIT_MS = 50.0


def main():
    results, work, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
    rows = [json.loads(line) for line in open(results, encoding="utf-8") if line.strip()]
    failed = False
    for size in sizes:
        size = int(size)
        at = {(r["engine"], r["panel"]): r for r in rows if r.get("size") == size and "panel" in r}
        loads = [r for r in rows if r.get("size") == size and "loaded" in r]
        print(f"\n{size:,} events; the last 30 days; p50 / p95 in ms")
        print("| panel | " + " | ".join(ENGINES) + " |")
        print("|---|" + "---|" * len(ENGINES))
        # DuckDB's panels first, in its order; then those only Candour times (the filtered ones).
        panels = [p for (e, p) in at if e == "duckdb"] + [p for (e, p) in at]
        for panel in dict.fromkeys(panels):
            cells = []
            for engine in ENGINES:
                r = at.get((engine, panel))
                cells.append(f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f}" if r else "–")
                if r and engine.startswith("candour") and not panel.startswith("dashboard"):
                    slowest_reference = min((at[(e, panel)]["p95_ms"] for e in ("duckdb", "chdb") if (e, panel) in at), default=None)
                    if r["p95_ms"] >= LIMIT_MS:
                        print(f"  {engine} {panel}: p95 {r['p95_ms']:.1f} ms is not under {LIMIT_MS:.0f} ms", file=sys.stderr)
                        failed = True
                    if slowest_reference is not None and r["p95_ms"] > slowest_reference:
                        print(f"  {engine} {panel}: p95 {r['p95_ms']:.1f} ms is slower than a reference's {slowest_reference:.1f} ms", file=sys.stderr)
            print(f"| {panel} | " + " | ".join(cells) + " |")
        for r in loads:
            print(f"{r['engine']}: recorded and folded {r['loaded']:,} events in {r['seconds']} s ({r['per_second']:,} events/s)")
        failed |= not agree(work, size)

    print("\nwhole dashboard, p50 ms, by size (flat means the cost does not grow with events)")
    print("| engine | " + " | ".join(f"{int(s):,}" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for engine in ENGINES:
        cells = []
        for size in sizes:
            r = next((r for r in rows if r.get("size") == int(size) and r.get("engine") == engine and r.get("panel") == "dashboard"), None)
            cells.append(f"{r['p50_ms']:.1f}" if r else "–")
        print(f"| {engine} | " + " | ".join(cells) + " |")
    sys.exit(1 if failed else 0)


def read_answers(path):
    site, pages = None, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "site":
                site = tuple(int(x) for x in parts[1:])
            else:
                pages[parts[1]] = (int(parts[2]), int(parts[3]))
    return site, pages


# The one documented difference: an event within 30 minutes of the last hit keeps a Candour
# visit open, while the reference splits visits on page views alone, so Candour may count a
# few fewer or more visits; a gap over 0.1% is a mismatch.
VISITS_TOLERANCE = 0.001


def visits_close(candour, reference):
    return abs(candour - reference) <= VISITS_TOLERANCE * max(reference, 1)


def agree(work, size):
    """Whether each Candour backend's answers equal DuckDB's; prints the first mismatches."""
    reference_site, reference_pages = read_answers(f"{work}/duckdb-{size}.tsv")
    ok = True
    for backend in ("sqlite", "postgres"):
        answers = f"{work}/{backend}-{size}.tsv"
        if not os.path.exists(answers):
            print(f"{backend}: no answers at {size:,} events (not run)")
            continue
        site, pages = read_answers(answers)
        wrong = []
        if site is None or reference_site is None:
            wrong.append(f"site: Candour {site}, DuckDB {reference_site}")
        elif (site[0], site[2]) != (reference_site[0], reference_site[2]) or not visits_close(site[1], reference_site[1]):
            wrong.append(f"site (visitors, visits, page views): Candour {site}, DuckDB {reference_site}")
        elif site[1] != reference_site[1]:
            print(f"{backend}: visits {site[1]:,} against DuckDB's {reference_site[1]:,} (the documented difference: an event keeps a Candour visit open)")
        for path in sorted(set(pages) | set(reference_pages)):
            if pages.get(path) != reference_pages.get(path):
                wrong.append(f"{path} (page views, visitors): Candour {pages.get(path)}, DuckDB {reference_pages.get(path)}")
        if wrong:
            ok = False
            print(f"{backend}: {len(wrong)} answers differ from DuckDB's, the first:", file=sys.stderr)
            for w in wrong[:10]:
                print(f"  {w}", file=sys.stderr)
        else:
            print(f"{backend}: the site's visitors, visits and page views and all {len(pages):,} pages' page views and visitors agree with DuckDB")
    return ok


if __name__ == "__main__":
    main()
