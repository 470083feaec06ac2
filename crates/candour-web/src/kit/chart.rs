//! A time-series chart drawn on the server as SVG: bars for one figure and a line for a
//! second, over labelled buckets. The page puts it in an `<svg role="img">` with a title and
//! a description and the same figures in a table beside it, so it needs no JavaScript and
//! says nothing a screen reader cannot read from the table.

/// The drawing's width and height, in SVG units (it scales to its box).
pub(crate) const WIDTH: f64 = 720.0;
pub(crate) const HEIGHT: f64 = 200.0;
/// Room at the top for the scale's label.
const TOP: f64 = 16.0;

/// One bucket's two figures.
pub(crate) struct Sample {
    pub bar: u64,
    pub line: u64,
}

/// One drawn bar.
pub(crate) struct BarShape {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
}

/// What a template draws.
pub(crate) struct Series {
    pub bars: Vec<BarShape>,
    /// The line's points, as an SVG `points` attribute; empty with fewer than two samples.
    pub line: String,
    /// The figure the chart's top stands for (both series share the scale).
    pub top: u64,
}

fn unit(v: f64) -> String {
    format!("{v:.1}")
}

/// Draw `samples` across the chart, the highest of either figure at the top.
pub(crate) fn draw(samples: &[Sample]) -> Series {
    let top = samples
        .iter()
        .map(|s| s.bar.max(s.line))
        .max()
        .unwrap_or(0)
        .max(1);
    let n = samples.len().max(1) as f64;
    let slot = WIDTH / n;
    let gap = if slot > 6.0 { slot * 0.2 } else { 0.0 };
    let room = HEIGHT - TOP;
    let y_of = |v: u64| HEIGHT - room * v as f64 / top as f64;
    let bars = samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = y_of(s.bar);
            BarShape {
                x: unit(i as f64 * slot + gap / 2.0),
                y: unit(y),
                width: unit((slot - gap).max(0.5)),
                height: unit(HEIGHT - y),
            }
        })
        .collect();
    let line = if samples.len() < 2 {
        String::new()
    } else {
        samples
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{},{}",
                    unit(i as f64 * slot + slot / 2.0),
                    unit(y_of(s.line))
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    Series { bars, line, top }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_the_width_and_the_highest_figure_reaches_the_top() {
        let s = draw(&[Sample { bar: 10, line: 5 }, Sample { bar: 0, line: 20 }]);
        assert_eq!(s.top, 20);
        assert_eq!(s.bars.len(), 2);
        assert_eq!(s.bars[0].x, "36.0");
        assert_eq!(s.bars[0].width, "288.0");
        // Half of the room under the label.
        assert_eq!(s.bars[0].height, "92.0");
        assert_eq!(s.bars[1].height, "0.0");
        assert_eq!(s.line, "180.0,154.0 540.0,16.0");
    }

    #[test]
    fn nothing_counted_draws_flat_bars_and_one_sample_no_line() {
        let s = draw(&[Sample { bar: 0, line: 0 }]);
        assert_eq!(s.top, 1);
        assert_eq!(s.bars[0].height, "0.0");
        assert!(s.line.is_empty());
        assert!(draw(&[]).bars.is_empty());
    }
}
