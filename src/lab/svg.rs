//! A small SVG writer and the two chart shapes the lab draws with it.
//!
//! SVG is XML (SVG 1.1 §1.3), so a chart is a text file a browser, a Markdown viewer or a reviewer
//! can read as is, and writing it needs no library: an `<svg>` root with a `viewBox`, then `<rect>`,
//! `<line>`, `<polyline>` and `<text>` elements with absolute coordinates. The only rule to respect is
//! XML's: text and attribute values escape `&`, `<`, `>` and `"` (XML 1.0 §2.4), which [`escape`] does.
//!
//! Two shapes cover the lab's charts:
//! - [`bar_chart`]: one horizontal bar per row, made of stacked segments (bytes per message as
//!   overhead + payload; requests per message);
//! - [`cdf_chart`]: one line per row through its latency percentiles, on a logarithmic time axis,
//!   which shows a whole distribution (median, tail, maximum) in one picture.

use std::fmt::Write as _;

/// Colours for rows or segments, in order.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 120.0;
/// The width of one character of a label, roughly, at the charts' font size.
const CHAR_WIDTH: f64 = 7.0;
const ROW_HEIGHT: f64 = 26.0;
const TOP: f64 = 40.0;

/// `text` with XML's special characters escaped, for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// An SVG document being written: elements are appended, [`Svg::finish`] closes the root.
pub struct Svg {
    text: String,
}

impl Svg {
    /// Opens a document `width` × `height` user units with a white background and a title.
    pub fn new(width: f64, height: f64, title: &str) -> Svg {
        let mut text = String::new();
        let _ = write!(
            text,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <title>{}</title>\n<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n",
            escape(title)
        );
        let mut svg = Svg { text };
        svg.text(width / 2.0, 20.0, "middle", title);
        svg
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, fill: &str) {
        let _ = writeln!(
            self.text,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{}\"/>",
            width.max(0.0),
            escape(fill)
        );
    }

    /// A thin grey line (axes and grid).
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64) {
        let _ = writeln!(
            self.text,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#bbb\"/>"
        );
    }

    /// An open line through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str) {
        let list: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            self.text,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            list.join(" "),
            escape(stroke)
        );
    }

    /// Text anchored `start`, `middle` or `end` at (`x`, `y`).
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, content: &str) {
        let _ = writeln!(
            self.text,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
            escape(content)
        );
    }

    /// Closes the root element and returns the document.
    pub fn finish(mut self) -> String {
        self.text.push_str("</svg>\n");
        self.text
    }
}

/// One bar of a [`bar_chart`]: a label and its stacked segment values.
pub struct Bar {
    /// The row's label (a door).
    pub label: String,
    /// One value per segment, in the order of the chart's segment names.
    pub segments: Vec<f64>,
}

/// Horizontal stacked bars, one per row, scaled to the largest total; each bar ends with its total.
pub fn bar_chart(title: &str, unit: &str, segment_names: &[&str], bars: &[Bar]) -> String {
    let height = TOP + ROW_HEIGHT * bars.len() as f64 + 50.0;
    // Long labels (a door and its server) widen the chart rather than run into the bars.
    let longest_label = bars.iter().map(|b| b.label.chars().count()).max();
    let label_width = LABEL_WIDTH.max(longest_label.unwrap_or(0) as f64 * CHAR_WIDTH + 16.0);
    let width = WIDTH - LABEL_WIDTH + label_width;
    let mut svg = Svg::new(width, height, title);
    let plot_width = width - label_width - 110.0;
    let largest = bars
        .iter()
        .map(|bar| bar.segments.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let scale = if largest > 0.0 {
        plot_width / largest
    } else {
        0.0
    };
    for (row, bar) in bars.iter().enumerate() {
        let y = TOP + ROW_HEIGHT * row as f64;
        svg.text(label_width - 8.0, y + 16.0, "end", &bar.label);
        let mut x = label_width;
        for (segment, value) in bar.segments.iter().enumerate() {
            let width = value * scale;
            svg.rect(x, y + 4.0, width, ROW_HEIGHT - 8.0, PALETTE[segment % 8]);
            x += width;
        }
        let total: f64 = bar.segments.iter().sum();
        svg.text(
            x + 6.0,
            y + 16.0,
            "start",
            &format!("{} {unit}", number(total)),
        );
    }
    let legend_y = TOP + ROW_HEIGHT * bars.len() as f64 + 24.0;
    legend(&mut svg, legend_y, segment_names);
    svg.finish()
}

/// One line of a [`cdf_chart`]: a label and `(milliseconds, fraction delivered)` points.
pub struct Curve {
    /// The row's label (a door).
    pub label: String,
    /// Points of the cumulative distribution, fraction from 0 to 1, in increasing order.
    pub points: Vec<(f64, f64)>,
}

/// Cumulative distributions of latency on a log10 time axis: for each door, the fraction of deliveries
/// (y) that arrived within a time (x). A curve far left is fast; a long flat tail to the right is a slow
/// 99th percentile.
pub fn cdf_chart(title: &str, curves: &[Curve]) -> String {
    let (plot_left, plot_top, plot_width, plot_height) = (60.0, TOP, WIDTH - 110.0, 260.0);
    let height = plot_top + plot_height + 40.0 + 20.0 * curves.len().div_ceil(4) as f64 + 20.0;
    let mut svg = Svg::new(WIDTH, height, title);
    let all_ms = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0));
    let (low, high) = all_ms.fold((f64::MAX, 0.0f64), |(lo, hi), ms| {
        (lo.min(ms.max(0.01)), hi.max(ms))
    });
    let first_decade = if low == f64::MAX {
        -1.0
    } else {
        low.log10().floor()
    };
    let last_decade = high.max(0.1).log10().ceil().max(first_decade + 1.0);
    let x_of = |ms: f64| {
        let fraction = (ms.max(0.01).log10() - first_decade) / (last_decade - first_decade);
        plot_left + plot_width * fraction.clamp(0.0, 1.0)
    };
    let y_of = |share: f64| plot_top + plot_height * (1.0 - share);
    for quarter in 0..=4 {
        let share = quarter as f64 / 4.0;
        svg.line(plot_left, y_of(share), plot_left + plot_width, y_of(share));
        svg.text(
            plot_left - 6.0,
            y_of(share) + 4.0,
            "end",
            &format!("{share:.2}"),
        );
    }
    let decades = (last_decade - first_decade) as i32;
    for step in 0..=decades {
        let ms = 10f64.powi(first_decade as i32 + step);
        svg.line(x_of(ms), plot_top, x_of(ms), plot_top + plot_height);
        let label = format!("{} ms", number(ms));
        svg.text(x_of(ms), plot_top + plot_height + 16.0, "middle", &label);
    }
    for (row, curve) in curves.iter().enumerate() {
        let points: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|(ms, share)| (x_of(*ms), y_of(*share)))
            .collect();
        svg.polyline(&points, PALETTE[row % 8]);
    }
    let labels: Vec<&str> = curves.iter().map(|c| c.label.as_str()).collect();
    legend(&mut svg, plot_top + plot_height + 40.0, &labels);
    svg.finish()
}

/// Coloured squares with names, four to a line.
fn legend(svg: &mut Svg, top: f64, names: &[&str]) {
    for (index, name) in names.iter().enumerate() {
        let x = LABEL_WIDTH + 150.0 * (index % 4) as f64;
        let y = top + 20.0 * (index / 4) as f64;
        svg.rect(x, y - 10.0, 10.0, 10.0, PALETTE[index % 8]);
        svg.text(x + 14.0, y, "start", name);
    }
}

/// A number with as many decimals as it needs to be read: `1234`, `10`, `12.3`, `0.052`.
pub fn number(value: f64) -> String {
    // The bands are chosen by what the value rounds to, so that 99.96 prints as `100`, not `100.0`.
    if value >= 99.95 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value >= 0.9995 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_keep_the_decimals_of_the_band_they_round_into() {
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(0.0523), "0.052");
        assert_eq!(number(99.994), "100", "not 100.0");
        assert_eq!(number(0.99996), "1.0", "not 1.000");
        assert_eq!(number(-0.8), "-0.800");
    }
}
