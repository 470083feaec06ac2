//! The statistics report that the console's dashboard and the public statistics page both
//! show: the range asked for, the headline figures against the period before, the time
//! series as a chart and a table, and a panel per dimension. Small counts are hidden by the
//! threshold each page passes; only the console links rows to filter by them.

use candour_core::stats::figures::{
    Change, Shown, average_duration, per_visit, percent, thousands,
};
use candour_core::stats::range::{DateRange, Preset, TypedDates, parse_range, uk_today};
use candour_core::stats::{DIRECT, Dimension, Filter, Grain, Metrics, Row, Summary};
use candour_core::uk_time::{DateParts, month_name, uk_local};
use serde::Deserialize;

use crate::AppState;
use crate::kit::chart::{self, Sample, Series};
use crate::kit::error::AppError;
use crate::kit::form::FormState;
use crate::kit::respond::query_value;

/// Rows a panel shows.
pub(crate) const PANEL_ROWS: u32 = 10;

/// The report asked for, as typed: every field is text, so it can be shown again.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ReportQuery {
    #[serde(default)]
    pub range: String,
    #[serde(default)]
    pub from_day: String,
    #[serde(default)]
    pub from_month: String,
    #[serde(default)]
    pub from_year: String,
    #[serde(default)]
    pub to_day: String,
    #[serde(default)]
    pub to_month: String,
    #[serde(default)]
    pub to_year: String,
    /// The dimension of the row clicked, and its value.
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub value: String,
}

impl ReportQuery {
    fn range_pairs(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("range", self.range.as_str())];
        if self.range.trim() == Preset::Custom.code() {
            out.extend([
                ("from_day", self.from_day.as_str()),
                ("from_month", self.from_month.as_str()),
                ("from_year", self.from_year.as_str()),
                ("to_day", self.to_day.as_str()),
                ("to_month", self.to_month.as_str()),
                ("to_year", self.to_year.as_str()),
            ]);
        }
        out
    }

    /// The query string of this range with `filter` (none: no filter).
    pub fn query_string(&self, filter: Option<&Filter>) -> String {
        let mut parts: Vec<String> = self
            .range_pairs()
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", query_value(v.trim())))
            .collect();
        if let Some(f) = filter {
            parts.push(format!("filter={}", f.dimension.code()));
            parts.push(format!("value={}", query_value(&f.value)));
        }
        parts.join("&")
    }
}

/// One of the two dates of a custom range, as the form shows it.
pub(crate) struct DateField {
    pub name: &'static str,
    pub legend: &'static str,
    pub day: String,
    pub month: String,
    pub year: String,
    pub error: Option<String>,
    pub parts: DateParts,
}

/// A choice of range, as the form offers it.
pub(crate) struct RangeChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// What was asked for, read; or what was wrong with it, in `form`.
pub(crate) struct Reading {
    pub query: ReportQuery,
    pub range: Option<DateRange>,
    pub filter: Option<Filter>,
    pub form: FormState,
    pub choices: Vec<RangeChoice>,
    pub dates: [DateField; 2],
    /// Whether rows link to filters and panels to their CSV (the console), or not (the
    /// public page, where a filter could single out a small group).
    pub links: bool,
}

/// Read the query on `now`. Filters are read only where `filters` allows them.
pub(crate) fn read(q: ReportQuery, now: time::OffsetDateTime, filters: bool) -> Reading {
    let mut form = FormState::new();
    let typed = TypedDates {
        from: [
            q.from_day.clone(),
            q.from_month.clone(),
            q.from_year.clone(),
        ],
        to: [q.to_day.clone(), q.to_month.clone(), q.to_year.clone()],
    };
    let mut dates = [
        DateField {
            name: "from",
            legend: "From",
            day: q.from_day.clone(),
            month: q.from_month.clone(),
            year: q.from_year.clone(),
            error: None,
            parts: DateParts::default(),
        },
        DateField {
            name: "to",
            legend: "To",
            day: q.to_day.clone(),
            month: q.to_month.clone(),
            year: q.to_year.clone(),
            error: None,
            parts: DateParts::default(),
        },
    ];
    let (preset, range) = match parse_range(&q.range, &typed, uk_today(now)) {
        Ok((p, r)) => (Some(p), Some(r)),
        Err(problems) => {
            for e in problems.errors.iter() {
                form.add_error(&e.field, e.problem.clone());
                if let Some(d) = dates.iter_mut().find(|d| e.field.starts_with(d.name)) {
                    d.error.get_or_insert_with(|| e.problem.clone());
                }
            }
            dates[0].parts = problems.from;
            dates[1].parts = problems.to;
            (Preset::from_code(q.range.trim()), None)
        }
    };
    let filter = if filters && !q.filter.trim().is_empty() {
        match Dimension::parse(q.filter.trim()) {
            Some(dimension) if !q.value.is_empty() && q.value.chars().count() <= 2048 => {
                Some(Filter {
                    dimension,
                    value: q.value.clone(),
                })
            }
            _ => {
                form.add_error(
                    "filter",
                    "The filter must be a row of one of the panels: choose a row again",
                );
                None
            }
        }
    } else {
        None
    };
    let chosen = preset.unwrap_or(Preset::ThirtyDays);
    let choices = Preset::ALL
        .into_iter()
        .map(|p| RangeChoice {
            code: p.code(),
            label: p.label(),
            checked: p == chosen,
        })
        .collect();
    Reading {
        query: q,
        range,
        filter,
        form,
        choices,
        dates,
        links: filters,
    }
}

/// A headline figure.
pub(crate) struct Headline {
    pub label: &'static str,
    pub value: String,
    /// How it moved, in words, or what it was before.
    pub change: String,
    pub class: &'static str,
}

/// A row of the time series' table.
pub(crate) struct SeriesRow {
    pub label: String,
    pub visitors: String,
    pub visits: String,
    pub pageviews: String,
}

/// A row of a panel.
pub(crate) struct PanelRow {
    pub label: String,
    /// The dashboard with every panel filtered by this row; `None` on the public page.
    pub href: Option<String>,
    pub cells: Vec<String>,
}

/// One dimension's table.
pub(crate) struct Panel {
    pub id: &'static str,
    pub title: &'static str,
    pub columns: [&'static str; 2],
    pub rows: Vec<PanelRow>,
    /// The CSV export of the whole panel; `None` on the public page.
    pub csv: Option<String>,
}

/// What the dashboard and the public page show.
pub(crate) struct Report {
    /// "1 November to 30 November 2026"
    pub title: String,
    pub filter: Option<(String, String)>,
    /// The same range without the filter.
    pub unfiltered: String,
    pub headlines: Vec<Headline>,
    pub chart: Series,
    pub chart_top: String,
    pub chart_label: &'static str,
    pub series: Vec<SeriesRow>,
    pub panels: Vec<Panel>,
    /// Page views imported from an earlier service inside the range, when any.
    pub imported: Option<String>,
    pub threshold: u64,
}

/// The panels, in the order shown: what each is by, its title and its second figure.
pub(crate) const PANELS: [(Dimension, &str); 12] = [
    (Dimension::Page, "Top pages"),
    (Dimension::EntryPage, "Entry pages"),
    (Dimension::ExitPage, "Exit pages"),
    (Dimension::Source, "Sources"),
    (Dimension::UtmCampaign, "Campaigns"),
    (Dimension::UtmSource, "Campaign sources"),
    (Dimension::UtmMedium, "Campaign media"),
    (Dimension::Browser, "Browsers"),
    (Dimension::Os, "Operating systems"),
    (Dimension::Device, "Devices"),
    (Dimension::Country, "Countries"),
    (Dimension::Goal, "Goals and events"),
];

/// The name of a dimension in a sentence ("page", "source").
pub(crate) fn dimension_words(d: Dimension) -> &'static str {
    match d {
        Dimension::Page => "page",
        Dimension::EntryPage => "entry page",
        Dimension::ExitPage => "exit page",
        Dimension::Source => "source",
        Dimension::UtmSource => "campaign source",
        Dimension::UtmMedium => "campaign medium",
        Dimension::UtmCampaign => "campaign",
        Dimension::Browser => "browser",
        Dimension::Os => "operating system",
        Dimension::Device => "device",
        Dimension::Country => "country",
        Dimension::Goal => "goal or event",
    }
}

/// A stored value as people read it.
pub(crate) fn value_words(d: Dimension, value: &str) -> String {
    match (d, value) {
        (Dimension::Source, DIRECT) => "Direct (no referring site)".to_owned(),
        (Dimension::Device, v) => {
            let mut c = v.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        _ => value.to_owned(),
    }
}

/// The panel's figures: the second column is page views for pages, events for goals and
/// visits for what describes a whole visit.
pub(crate) fn second_figure(d: Dimension) -> (&'static str, fn(&Metrics) -> i64) {
    match d {
        Dimension::Page => ("Page views", |m| m.pageviews),
        Dimension::Goal => ("Events", |m| m.events),
        _ => ("Visits", |m| m.visits),
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn day_label(t: time::OffsetDateTime) -> String {
    let l = uk_local(t);
    format!("{} {}", l.day(), &month_name(l.month())[..3])
}

fn hour_label(t: time::OffsetDateTime) -> String {
    let h = uk_local(t).hour();
    match h {
        0 => "midnight".to_owned(),
        12 => "midday".to_owned(),
        h if h < 12 => format!("{h}am"),
        h => format!("{}pm", h - 12),
    }
}

/// The range in words: "2 December 2026", or "3 November to 2 December 2026".
pub(crate) fn range_title(r: &DateRange) -> String {
    let full = |d: time::Date| format!("{} {} {}", d.day(), month_name(d.month()), d.year());
    if r.first == r.last {
        full(r.first)
    } else if r.first.year() == r.last.year() {
        format!(
            "{} {} to {}",
            r.first.day(),
            month_name(r.first.month()),
            full(r.last)
        )
    } else {
        format!("{} to {}", full(r.first), full(r.last))
    }
}

/// Everything the page shows for a range that was read.
pub(crate) async fn build(
    state: &AppState,
    reading: &Reading,
    range: DateRange,
    threshold: u64,
    base: &str,
) -> Result<Report, AppError> {
    let stores = state.stores();
    let filter = reading.filter.as_ref();
    let now = range.instants();
    let before = range.previous().instants();
    let grain = if range.first == range.last {
        Grain::Hour
    } else {
        Grain::Day
    };
    let summary: Summary = stores
        .stats_report
        .stats_summary(now, grain, filter)
        .await?;
    let earlier: Summary = stores
        .stats_report
        .stats_summary(before, Grain::Day, filter)
        .await?;
    let (m, p) = (summary.totals, earlier.totals);
    let shown = |n: i64| Shown::of(count(n), threshold).to_string();
    // Rates of a hidden number of visits would give it away.
    let visits_hidden = Shown::of(count(m.visits), threshold).is_hidden();
    let rate = |s: String| if visits_hidden { "–".to_owned() } else { s };
    let moved = |a: i64, b: i64| {
        let c = Change::between(count(a), count(b));
        (c.words(), c.class())
    };
    let mut headlines = Vec::new();
    for (label, a, b) in [
        ("Visitors", m.visitors, p.visitors),
        ("Visits", m.visits, p.visits),
        ("Page views", m.pageviews, p.pageviews),
    ] {
        let (change, class) = moved(a, b);
        headlines.push(Headline {
            label,
            value: shown(a),
            change,
            class,
        });
    }
    let before_hidden = Shown::of(count(p.visits), threshold).is_hidden();
    let was = |s: String| {
        if before_hidden {
            "the period before: –".to_owned()
        } else {
            format!("the period before: {s}")
        }
    };
    headlines.push(Headline {
        label: "Views per visit",
        value: rate(per_visit(count(m.pageviews), count(m.visits))),
        change: was(per_visit(count(p.pageviews), count(p.visits))),
        class: "same",
    });
    headlines.push(Headline {
        label: "Bounce rate",
        value: rate(percent(count(m.bounces), count(m.visits))),
        change: was(percent(count(p.bounces), count(p.visits))),
        class: "same",
    });
    headlines.push(Headline {
        label: "Visit duration",
        value: rate(average_duration(count(m.duration_seconds), count(m.visits))),
        change: was(average_duration(count(p.duration_seconds), count(p.visits))),
        class: "same",
    });

    // Every bucket of the range, empty ones too.
    let buckets = range.buckets();
    let mut points = summary.series.iter().peekable();
    let mut samples = Vec::with_capacity(buckets.len());
    let mut series = Vec::with_capacity(buckets.len());
    for b in buckets {
        let mut here = Metrics::default();
        while let Some(p) = points.next_if(|p| p.bucket <= b) {
            if p.bucket == b {
                here = p.metrics;
            }
        }
        samples.push(Sample {
            bar: count(here.pageviews),
            line: count(here.visitors),
        });
        series.push(SeriesRow {
            label: if grain == Grain::Hour {
                hour_label(b)
            } else {
                day_label(b)
            },
            visitors: shown(here.visitors),
            visits: shown(here.visits),
            pageviews: shown(here.pageviews),
        });
    }
    let drawn = chart::draw(&samples);
    let chart_top = thousands(drawn.top);

    let link = |f: Option<&Filter>| {
        let qs = reading.query.query_string(f);
        if qs.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{qs}")
        }
    };
    let mut panels = Vec::with_capacity(PANELS.len());
    for (dimension, title) in PANELS {
        let rows: Vec<Row> = stores
            .stats_report
            .stats_breakdown(now, dimension, filter, PANEL_ROWS)
            .await?;
        let (second, figure) = second_figure(dimension);
        panels.push(Panel {
            id: dimension.code(),
            title,
            columns: ["Visitors", second],
            rows: rows
                .iter()
                .map(|r| PanelRow {
                    label: value_words(dimension, &r.value),
                    href: reading.links.then(|| {
                        link(Some(&Filter {
                            dimension,
                            value: r.value.clone(),
                        }))
                    }),
                    cells: vec![shown(r.metrics.visitors), shown(figure(&r.metrics))],
                })
                .collect(),
            csv: reading.links.then(|| {
                let qs = reading.query.query_string(filter);
                let path = format!("{base}.csv?panel={}", dimension.code());
                if qs.is_empty() {
                    path
                } else {
                    format!("{path}&{qs}")
                }
            }),
        });
    }
    let imported = stores.stats_report.imported_pageviews(now).await?;
    Ok(Report {
        title: range_title(&range),
        filter: filter.map(|f| {
            (
                dimension_words(f.dimension).to_owned(),
                value_words(f.dimension, &f.value),
            )
        }),
        unfiltered: link(None),
        headlines,
        chart: drawn,
        chart_top,
        chart_label: if grain == Grain::Hour { "Hour" } else { "Day" },
        series,
        panels,
        imported: (imported > 0 && filter.is_none()).then(|| thousands(count(imported))),
        threshold,
    })
}
