"""Raw statistics events for the dashboard benchmark, the same file for every run of a size.

Writes N events as tab-separated text with a header:
    ts visitor kind name path referrer utm_source utm_medium utm_campaign browser os device country
`ts` is Unix seconds (UTC); `visitor` a number that names one visitor within one UTC day (the
loader turns (day, visitor) into the day hash); `kind` is `pageview` or `event` (then `name`
is the event's name). Empty text means none (a direct visit, no campaign).

The shape is that of a public body's site over 90 days (1 December 2025 to 28 February 2026,
all GMT, so UTC days and UK days are the same days): 5,000 pages and 2,000 referring hosts
drawn Zipf-like (a few pages take most views), weekdays busier than weekends, a daily rhythm
(quiet at night, busiest late morning and evening), visits of one to twenty pages a few
seconds to minutes apart (about half leave after one page), some visitors coming back the
same day, and a few events (outbound clicks, downloads, named events) inside visits.
Deterministic: the same N gives the same bytes.

    python3 bench/statistics_events.py N OUT.tsv
"""

import bisect
import itertools
import random
import sys

START = 1764547200  # 2025-12-01T00:00:00Z
DAYS = 90
PAGES = 5000
REFERRERS = 2000


def zipf_cumulative(n, s):
    """Cumulative weights of ranks 1..n under a Zipf law of exponent s."""
    return list(itertools.accumulate(1.0 / (k**s) for k in range(1, n + 1)))


def picker(rng, values, cumulative):
    total = cumulative[-1]

    def pick():
        return values[bisect.bisect_left(cumulative, rng.random() * total)]

    return pick


def weighted(rng, pairs):
    values = [v for v, _ in pairs]
    return picker(rng, values, list(itertools.accumulate(w for _, w in pairs)))


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(15)

    sections = ["news", "advice", "report", "contact", "about-us", "careers", "neighbourhoods", "appeals"]
    pages = ["/"] + [f"/{sections[i % len(sections)]}/page-{i}" for i in range(1, PAGES)]
    page = picker(rng, pages, zipf_cumulative(PAGES, 1.05))
    hosts = [f"site-{i}.example" for i in range(REFERRERS)]
    hosts[:6] = ["www.google.com", "www.bing.com", "duckduckgo.com", "www.facebook.com", "t.co", "www.gov.uk"]
    host = picker(rng, hosts, zipf_cumulative(REFERRERS, 1.2))
    campaigns = [f"campaign-{i}" for i in range(30)]
    campaign = picker(rng, campaigns, zipf_cumulative(len(campaigns), 1.0))
    browser = weighted(rng, [("Chrome", 52), ("Safari", 27), ("Edge", 9), ("Firefox", 6), ("Samsung Internet", 4), ("Opera", 2)])
    os_name = weighted(rng, [("iOS", 30), ("Android", 28), ("Windows", 28), ("Mac", 10), ("Linux", 2), ("Chrome OS", 2)])
    device = weighted(rng, [("mobile", 58), ("desktop", 36), ("tablet", 6)])
    countries = ["GB", "IE", "US", "FR", "DE", "ES", "PL", "IN", "NL", "RO"] + [f"X{i}" for i in range(40)]
    country = picker(rng, countries, zipf_cumulative(len(countries), 2.0))
    events = weighted(rng, [("Outbound link: click", 5), ("File download", 3), ("Share", 1), ("Poll vote", 1), ("Form submitted", 1)])
    # Weekdays are busier than weekends; the site grows a little over the quarter.
    weekday_weight = [1.0, 1.0, 0.97, 0.95, 0.9, 0.6, 0.55]  # Monday first; 1 Dec 2025 was a Monday
    day_weights = [weekday_weight[d % 7] * (1 + 0.2 * d / DAYS) for d in range(DAYS)]
    day = picker(rng, list(range(DAYS)), list(itertools.accumulate(day_weights)))
    hour_weight = [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 5.6, 5.4, 5, 4.8, 4.6, 4.5, 4.6, 5, 5.2, 4.8, 3.8, 2.6, 1.6]
    hour = picker(rng, list(range(24)), list(itertools.accumulate(hour_weight)))
    # About one visitor in five comes back later the same day; ids are per day.
    visitors_of_day = [0] * DAYS

    written = 0
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("ts\tvisitor\tkind\tname\tpath\treferrer\tutm_source\tutm_medium\tutm_campaign\tbrowser\tos\tdevice\tcountry\n")
        while written < n:
            d = day()
            if visitors_of_day[d] > 0 and rng.random() < 0.2:
                visitor = rng.randrange(visitors_of_day[d])
            else:
                visitor = visitors_of_day[d]
                visitors_of_day[d] += 1
            day_end = START + (d + 1) * 86400
            ts = START + d * 86400 + hour() * 3600 + rng.randrange(3600)
            r = rng.random()
            ref = utm_s = utm_m = utm_c = ""
            if r < 0.05:
                utm_s, utm_m, utm_c = "newsletter", "email", campaign()
            elif r < 0.55:
                ref = host()
            agent = f"{browser()}\t{os_name()}\t{device()}\t{country()}"
            # One page in about half the visits; longer visits thin out.
            length = 1
            while length < 20 and rng.random() < (0.55 if length == 1 else 0.62):
                length += 1
            entry = True
            for _ in range(length):
                if written >= n or ts >= day_end:
                    break
                path = page() if not entry or rng.random() < 0.7 else "/"
                entry = False
                f.write(f"{ts}\t{visitor}\tpageview\t\t{path}\t{ref}\t{utm_s}\t{utm_m}\t{utm_c}\t{agent}\n")
                written += 1
                if rng.random() < 0.04 and written < n:
                    f.write(f"{ts + 2}\t{visitor}\tevent\t{events()}\t{path}\t{ref}\t{utm_s}\t{utm_m}\t{utm_c}\t{agent}\n")
                    written += 1
                ts += 5 + int(rng.expovariate(1 / 70))


if __name__ == "__main__":
    main()
