//! The dashboard's figures as people read them: counts with thousands separators, small
//! counts hidden ("fewer than 5"), rates, views per visit, the average visit's length, and
//! the change from the period before.

use std::fmt;

/// A count as shown: the number, or that it is under the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Count(u64),
    FewerThan(u64),
}

impl Shown {
    /// `n` as shown where counts from 1 to `threshold - 1` are hidden (a threshold of 0 or 1
    /// hides nothing; nothing counted is shown as 0, since it reveals no one).
    pub fn of(n: u64, threshold: u64) -> Shown {
        if n == 0 || n >= threshold {
            Shown::Count(n)
        } else {
            Shown::FewerThan(threshold)
        }
    }

    pub fn is_hidden(self) -> bool {
        matches!(self, Shown::FewerThan(_))
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Count(n) => f.write_str(&thousands(*n)),
            Shown::FewerThan(t) => write!(f, "fewer than {t}"),
        }
    }
}

/// `n` with commas between thousands: "12,345".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part` as a whole percentage of `whole` ("42%"), or a dash when `whole` is nothing.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".to_owned();
    }
    let p = (part as f64 * 100.0 / whole as f64).round();
    format!("{p}%")
}

/// Page views per visit to one decimal place ("2.4"), or a dash without visits.
pub fn per_visit(pageviews: u64, visits: u64) -> String {
    if visits == 0 {
        return "–".to_owned();
    }
    format!("{:.1}", pageviews as f64 / visits as f64)
}

/// The average visit's length from the visits' total seconds: "45s", "3m 05s", "1h 02m",
/// or a dash without visits.
pub fn average_duration(total_seconds: u64, visits: u64) -> String {
    if visits == 0 {
        return "–".to_owned();
    }
    let s = (total_seconds as f64 / visits as f64).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// How a figure moved since the period before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Up by this whole percentage.
    Up(u64),
    /// Down by this whole percentage.
    Down(u64),
    Same,
    /// Nothing to compare with: the period before had none.
    New,
}

impl Change {
    pub fn between(now: u64, before: u64) -> Change {
        if before == 0 {
            return if now == 0 { Change::Same } else { Change::New };
        }
        let pct = ((now as f64 - before as f64) / before as f64 * 100.0).round();
        if pct > 0.0 {
            Change::Up(pct as u64)
        } else if pct < 0.0 {
            Change::Down((-pct) as u64)
        } else {
            Change::Same
        }
    }

    /// The words beside a headline figure.
    pub fn words(self) -> String {
        match self {
            Change::Up(p) => format!("up {p}% on the period before"),
            Change::Down(p) => format!("down {p}% on the period before"),
            Change::Same => "no change on the period before".to_owned(),
            Change::New => "none in the period before".to_owned(),
        }
    }

    /// A class for the figure's colour: `up`, `down` or `same`.
    pub fn class(self) -> &'static str {
        match self {
            Change::Up(_) | Change::New => "up",
            Change::Down(_) => "down",
            Change::Same => "same",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_hidden_but_nothing_is_zero() {
        assert_eq!(Shown::of(0, 5), Shown::Count(0));
        assert_eq!(Shown::of(1, 5), Shown::FewerThan(5));
        assert_eq!(Shown::of(4, 5).to_string(), "fewer than 5");
        assert_eq!(Shown::of(5, 5).to_string(), "5");
        assert_eq!(Shown::of(1, 0), Shown::Count(1));
        assert_eq!(Shown::of(1234, 5).to_string(), "1,234");
        assert!(Shown::of(2, 3).is_hidden());
    }

    #[test]
    fn counts_take_commas_between_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(123_456_789), "123,456,789");
    }

    #[test]
    fn rates_and_averages_read_as_people_expect() {
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(2, 3), "67%");
        assert_eq!(percent(0, 0), "–");
        assert_eq!(per_visit(7, 3), "2.3");
        assert_eq!(per_visit(7, 0), "–");
        assert_eq!(average_duration(90, 2), "45s");
        assert_eq!(average_duration(185, 1), "3m 05s");
        assert_eq!(average_duration(3720, 1), "1h 02m");
        assert_eq!(average_duration(10, 0), "–");
    }

    #[test]
    fn changes_are_whole_percentages_of_the_period_before() {
        assert_eq!(Change::between(120, 100), Change::Up(20));
        assert_eq!(Change::between(50, 100), Change::Down(50));
        assert_eq!(Change::between(100, 100), Change::Same);
        assert_eq!(Change::between(3, 0), Change::New);
        assert_eq!(Change::between(0, 0), Change::Same);
        assert_eq!(Change::Up(20).words(), "up 20% on the period before");
        assert_eq!(Change::Down(5).class(), "down");
    }
}
