//! Reading a Google Analytics export of daily page views per page, so that a site switching
//! to Candour keeps its history in the same charts.
//!
//! Exports from Universal Analytics and from GA4 differ in their details, and real files are
//! read as they come: comment lines starting with `#` and blank lines before the table, any
//! of the header names the two versions use for the page, the date and the views (other
//! columns are ignored), dates as `YYYYMMDD` (or `YYYY-MM-DD`), counts with thousands
//! separators (`"1,234"`), and a totals row or a second table after the first (a blank line
//! ends the table). Anything else is refused, naming the line and the column: a history that
//! is half read is worse than none.

use std::collections::BTreeMap;

use time::Date;
use time::macros::format_description;

use super::HistoryRow;
use crate::fields::FieldErrors;

/// The most data rows a file may hold (about 2.7 years of 1,000 pages a day).
pub const MOST_ROWS: usize = 1_000_000;
/// The longest page path kept.
pub const LONGEST_PAGE: usize = 1024;

/// Header names of the page column, in lower case.
const PAGE_HEADERS: &[&str] = &[
    "page",
    "page path",
    "page path and screen class",
    "page path + query string",
    "pagepath",
    "ga:pagepath",
];
/// Header names of the date column.
const DATE_HEADERS: &[&str] = &["date", "ga:date", "day"];
/// Header names of the page-view column.
const VIEW_HEADERS: &[&str] = &[
    "pageviews",
    "views",
    "screen pageviews",
    "screenpageviews",
    "ga:pageviews",
    "page views",
];
/// First cells of total rows that some exports add.
const TOTAL_ROWS: &[&str] = &["grand total", "total", "totals"];

/// A whole file, read: each page's views per day (rows for the same page and day added
/// together), in order of day then page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    pub days: Vec<HistoryRow>,
    /// Data rows read.
    pub rows: usize,
    /// Lines after the table that were not read, from the first blank line after it.
    pub ignored_lines: usize,
}

impl History {
    pub fn total_views(&self) -> i64 {
        self.days.iter().map(|d| d.pageviews).sum()
    }

    pub fn first_day(&self) -> Option<Date> {
        self.days.iter().map(|d| d.day).min()
    }

    pub fn last_day(&self) -> Option<Date> {
        self.days.iter().map(|d| d.day).max()
    }

    /// How many different pages.
    pub fn pages(&self) -> usize {
        let mut pages: Vec<&str> = self.days.iter().map(|d| d.path.as_str()).collect();
        pages.sort_unstable();
        pages.dedup();
        pages.len()
    }
}

/// The most problems listed before reading stops.
const MOST_PROBLEMS: usize = 20;

/// Read an export. Problems name the line (counting from 1, as an editor does) and the
/// column, and up to [`MOST_PROBLEMS`] are listed; each field is `line N`.
pub fn parse_history(bytes: &[u8]) -> Result<History, FieldErrors> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        FieldErrors::one(
            format!("line {line}"),
            "is not UTF-8 text: export the report from Google Analytics as CSV",
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    // The header: the first line that is neither blank nor a comment.
    let Some(header_at) = lines
        .iter()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    else {
        return Err(FieldErrors::one(
            "file",
            "holds no table: it should have a header line naming the page, date and views \
             columns",
        ));
    };
    // The table ends at the first blank line after the header.
    let end = lines[header_at..]
        .iter()
        .position(|l| l.trim().is_empty())
        .map_or(lines.len(), |p| header_at + p);
    let ignored_lines = lines[end..].iter().filter(|l| !l.trim().is_empty()).count();
    let table = lines[header_at..end].join("\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(table.as_bytes());
    let header_line = header_at + 1;
    let headers = reader
        .headers()
        .map_err(|_| FieldErrors::one(format!("line {header_line}"), "is not a CSV header"))?
        .clone();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.trim().to_lowercase().as_str()))
    };
    let (page_col, date_col, view_col) =
        (find(PAGE_HEADERS), find(DATE_HEADERS), find(VIEW_HEADERS));
    let (Some(page_col), Some(date_col), Some(view_col)) = (page_col, date_col, view_col) else {
        let mut errors = FieldErrors::new();
        for (found, what, names) in [
            (
                page_col,
                "page",
                "Page, Page path or Page path and screen class",
            ),
            (date_col, "date", "Date"),
            (view_col, "views", "Pageviews or Views"),
        ] {
            if found.is_none() {
                errors.add(
                    format!("line {header_line}"),
                    format!("has no {what} column: its header should be {names}"),
                );
            }
        }
        return Err(errors);
    };

    let mut errors = FieldErrors::new();
    let mut totals: BTreeMap<(Date, String), i64> = BTreeMap::new();
    let mut rows = 0usize;
    for (i, record) in reader.records().enumerate() {
        // The header is the table's first line.
        let line = header_line + 1 + i;
        if errors.len() >= MOST_PROBLEMS {
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                errors.add(format!("line {line}"), "is not a CSV line");
                continue;
            }
        };
        let cell = |c: usize| record.get(c).map(str::trim).unwrap_or("");
        let first = record.get(0).map(str::trim).unwrap_or("").to_lowercase();
        if TOTAL_ROWS.contains(&first.as_str()) {
            continue;
        }
        rows += 1;
        if rows > MOST_ROWS {
            errors.add(
                format!("line {line}"),
                format!(
                    "is past the most rows one file may hold ({MOST_ROWS}): split the file by date"
                ),
            );
            break;
        }
        let header = |c: usize| headers.get(c).unwrap_or("").trim().to_owned();
        let page = cell(page_col);
        let page = if page.is_empty() {
            errors.add(
                format!("line {line}"),
                format!(
                    "column {} is empty: each row needs its page",
                    header(page_col)
                ),
            );
            None
        } else if page.chars().count() > LONGEST_PAGE || page.chars().any(char::is_control) {
            errors.add(
                format!("line {line}"),
                format!(
                    "column {} must be a page path of at most {LONGEST_PAGE} characters, \
                     without control characters",
                    header(page_col)
                ),
            );
            None
        } else {
            Some(page.to_owned())
        };
        let day = match parse_day(cell(date_col)) {
            Some(d) => Some(d),
            None => {
                errors.add(
                    format!("line {line}"),
                    format!(
                        "column {} must be a date as YYYYMMDD, such as 20240131, not \"{}\"",
                        header(date_col),
                        short(cell(date_col))
                    ),
                );
                None
            }
        };
        let views = match parse_count(cell(view_col)) {
            Some(v) => Some(v),
            None => {
                errors.add(
                    format!("line {line}"),
                    format!(
                        "column {} must be a whole number, such as 1,234, not \"{}\"",
                        header(view_col),
                        short(cell(view_col))
                    ),
                );
                None
            }
        };
        if let (Some(page), Some(day), Some(views)) = (page, day, views) {
            let total = totals.entry((day, page)).or_insert(0);
            *total = total.saturating_add(views);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if rows == 0 {
        return Err(FieldErrors::one(
            format!("line {header_line}"),
            "is the header of a table with no rows",
        ));
    }
    Ok(History {
        days: totals
            .into_iter()
            .map(|((day, path), pageviews)| HistoryRow {
                day,
                path,
                pageviews,
            })
            .collect(),
        rows,
        ignored_lines,
    })
}

/// A cell as quoted back in a message: at most 40 characters.
fn short(cell: &str) -> String {
    let mut s: String = cell.chars().take(40).collect();
    if cell.chars().count() > 40 {
        s.push('…');
    }
    s
}

fn parse_day(cell: &str) -> Option<Date> {
    let compact = format_description!("[year][month][day]");
    let dashed = format_description!("[year]-[month]-[day]");
    if cell.len() == 8 && cell.bytes().all(|b| b.is_ascii_digit()) {
        Date::parse(cell, compact).ok()
    } else if cell.len() == 10 {
        Date::parse(cell, dashed).ok()
    } else {
        None
    }
}

/// A whole number, with commas between thousands allowed only in their places.
fn parse_count(cell: &str) -> Option<i64> {
    if cell.is_empty() || cell.len() > 24 {
        return None;
    }
    if cell.contains(',') {
        let groups: Vec<&str> = cell.split(',').collect();
        let well_placed = groups.iter().enumerate().all(|(i, g)| {
            let len_ok = if i == 0 {
                (1..=3).contains(&g.len())
            } else {
                g.len() == 3
            };
            len_ok && g.bytes().all(|b| b.is_ascii_digit())
        });
        return well_placed.then(|| groups.concat().parse().ok()).flatten();
    }
    if cell.bytes().all(|b| b.is_ascii_digit()) {
        cell.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const UNIVERSAL: &str = "\
# ----------------------------------------
# All Web Site Data
# Pages
# 20240101-20240102
# ----------------------------------------

Page,Date,Pageviews,Unique Pageviews,Avg. Time on Page,Entrances,Bounce Rate,% Exit,Page Value
/,20240101,\"1,234\",\"1,001\",00:00:41,900,40.00%,50.00%,£0.00
/news,20240101,56,50,00:01:10,20,30.00%,20.00%,£0.00
/,20240102,\"2,000\",\"1,800\",00:00:39,\"1,500\",41.00%,49.00%,£0.00
/news,20240101,4,4,00:00:10,1,0.00%,0.00%,£0.00

Day Index,Pageviews
01/01/2024,\"1,294\"
02/01/2024,\"2,000\"
,\"3,294\"
";

    #[test]
    fn a_universal_analytics_export_is_read_with_its_comments_and_second_table() {
        let h = parse_history(UNIVERSAL.as_bytes()).unwrap();
        assert_eq!(h.rows, 4);
        assert_eq!(h.ignored_lines, 4);
        assert_eq!(
            h.days,
            vec![
                HistoryRow {
                    day: date!(2024 - 01 - 01),
                    path: "/".into(),
                    pageviews: 1234
                },
                // Two rows for the same page and day are added together.
                HistoryRow {
                    day: date!(2024 - 01 - 01),
                    path: "/news".into(),
                    pageviews: 60
                },
                HistoryRow {
                    day: date!(2024 - 01 - 02),
                    path: "/".into(),
                    pageviews: 2000
                },
            ]
        );
        assert_eq!(h.total_views(), 3294);
        assert_eq!(h.pages(), 2);
        assert_eq!(h.first_day(), Some(date!(2024 - 01 - 01)));
        assert_eq!(h.last_day(), Some(date!(2024 - 01 - 02)));
    }

    #[test]
    fn a_ga4_export_with_a_bom_and_a_grand_total_is_read() {
        let text = "\u{feff}# Pages and screens\n# Start date: 20240101\n\
            Page path and screen class,Date,Views,Users\n\
            Grand total,,\"3,000\",10\n\
            /contact,20240105,\"3,000\",10\n";
        let h = parse_history(text.as_bytes()).unwrap();
        assert_eq!(
            h.days,
            vec![HistoryRow {
                day: date!(2024 - 01 - 05),
                path: "/contact".into(),
                pageviews: 3000
            }]
        );
        // Columns in another order, dates with dashes.
        let h = parse_history(b"Views,Date,Page path\n7,2024-02-29,/a\n").unwrap();
        assert_eq!(h.days[0].day, date!(2024 - 02 - 29));
        assert_eq!(h.days[0].pageviews, 7);
    }

    fn problems(text: &str) -> Vec<String> {
        parse_history(text.as_bytes())
            .unwrap_err()
            .iter()
            .map(|e| format!("{}: {}", e.field, e.problem))
            .collect()
    }

    #[test]
    fn bad_rows_are_named_by_line_and_column() {
        let p = problems(
            "# c\nPage,Date,Pageviews\n/,20240101,12\n/,2024013,5\n/,20240230,5\n/x,20240101,1.5\n/y,20240101,\"12,34\"\n,20240101,3\n",
        );
        assert_eq!(
            p,
            [
                "line 4: column Date must be a date as YYYYMMDD, such as 20240131, not \"2024013\"",
                "line 5: column Date must be a date as YYYYMMDD, such as 20240131, not \"20240230\"",
                "line 6: column Pageviews must be a whole number, such as 1,234, not \"1.5\"",
                "line 7: column Pageviews must be a whole number, such as 1,234, not \"12,34\"",
                "line 8: column Page is empty: each row needs its page",
            ]
        );
        assert_eq!(
            problems("-1"),
            [
                "line 1: has no page column: its header should be Page, Page path or Page path and screen class",
                "line 1: has no date column: its header should be Date",
                "line 1: has no views column: its header should be Pageviews or Views"
            ]
        );
        assert_eq!(
            problems("Page,Date,Views\n"),
            ["line 1: is the header of a table with no rows"]
        );
        assert_eq!(
            problems("# only\n\n"),
            [
                "file: holds no table: it should have a header line naming the page, date and views columns"
            ]
        );
        let p = parse_history(b"Page,Date,Views\n/\xff,20240101,1\n").unwrap_err();
        assert_eq!(p.iter().next().unwrap().field, "line 2");
        let negative = problems("Page,Date,Views\n/,20240101,-3\n");
        assert_eq!(negative.len(), 1);
    }

    #[test]
    fn thousands_separators_must_be_in_their_places() {
        assert_eq!(parse_count("1,234,567"), Some(1_234_567));
        assert_eq!(parse_count("999"), Some(999));
        assert_eq!(parse_count("1,23"), None);
        assert_eq!(parse_count(",123"), None);
        assert_eq!(parse_count("1234,567"), None);
        assert_eq!(parse_count(""), None);
        assert_eq!(parse_count("+3"), None);
    }
}
