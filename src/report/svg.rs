//! The report's charts as inline SVG: no script, no font, no request; they
//! draw in any browser, printed or offline. Every data mark carries the
//! class `mark` and a `<title>` (the browser's own tooltip), and every
//! chart the class `chart` and a `data-chart` name, so a test can find
//! each chart and check that it drew.
//!
//! Each function returns `None` when there is nothing to draw (no value
//! above zero): the caller says so in words instead of drawing a blank.

use super::html::{esc, esc_short, num};
use std::fmt::Write as _;

/// Width of every chart in SVG units (it scales to the page).
const W: f64 = 640.0;

/// Colours, readable on white and for the common colour-vision deficiencies.
pub mod color {
    /// Records, the main series.
    pub const BLUE: &str = "#2f6db5";
    /// Rows.
    pub const TEAL: &str = "#1f8a7a";
    /// Warnings: retries, conversions.
    pub const AMBER: &str = "#c7801a";
    /// Failures.
    pub const RED: &str = "#c0392b";
    /// Neutral.
    pub const GREY: &str = "#6b7280";
    /// Audit matches.
    pub const PURPLE: &str = "#7048a8";
}

/// One bar: a label, its value, the value as shown, its colour.
#[derive(Debug, Clone)]
pub struct Bar {
    /// What the bar is (escaped when drawn).
    pub label: String,
    /// Its length.
    pub value: f64,
    /// The value as written beside it.
    pub text: String,
    /// Fill colour.
    pub color: &'static str,
}

impl Bar {
    /// A bar whose text is its value.
    pub fn new(label: impl Into<String>, value: f64, color: &'static str) -> Bar {
        Bar {
            label: label.into(),
            value,
            text: if value.fract() == 0.0 && value.abs() < 1e15 {
                super::html::int(value.abs() as u64)
            } else {
                num(value)
            },
            color,
        }
    }
}

/// One constant step of a series over time: from `t0` to `t1` seconds, `v`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Start, seconds since the run started.
    pub t0: f64,
    /// End.
    pub t1: f64,
    /// The value over the step.
    pub v: f64,
}

/// A round axis top and step for values up to `max` (about four steps).
pub fn nice_axis(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn open(id: &str, aria: &str, height: f64) -> String {
    format!(
        "<svg class=\"chart\" data-chart=\"{id}\" viewBox=\"0 0 {W} {height:.0}\" role=\"img\" aria-label=\"{}\">",
        esc(aria)
    )
}

fn any_positive(values: impl IntoIterator<Item = f64>) -> bool {
    values.into_iter().any(|v| v.is_finite() && v > 0.0)
}

/// Horizontal bars, one per row, labels on the left.
pub fn hbars(id: &str, aria: &str, bars: &[Bar]) -> Option<String> {
    if !any_positive(bars.iter().map(|b| b.value)) {
        return None;
    }
    let longest = bars.iter().map(|b| b.label.chars().count().min(34)).max();
    let label_w = (longest.unwrap_or(4) as f64 * 6.6 + 12.0).clamp(60.0, 240.0);
    let area = W - label_w - 90.0;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let row = 22.0;
    let mut out = open(id, aria, bars.len() as f64 * row + 8.0);
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let w = if b.value > 0.0 {
            (b.value / max * area).max(1.5)
        } else {
            0.0
        };
        let _ = write!(
            out,
            "<g><title>{label}: {text}</title>\
             <text class=\"lbl\" x=\"{lx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{short}</text>\
             <rect class=\"mark\" x=\"{label_w:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"15\" rx=\"2\" fill=\"{color}\"/>\
             <text class=\"val\" x=\"{vx:.1}\" y=\"{ty:.1}\">{text}</text></g>",
            label = esc(&b.label),
            text = esc(&b.text),
            short = esc_short(&b.label, 34),
            lx = label_w - 6.0,
            ty = y + 11.5,
            vx = label_w + w + 5.0,
            color = b.color,
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// Vertical bars (a histogram): labels under the bars, a value axis.
pub fn vbars(id: &str, aria: &str, bars: &[Bar]) -> Option<String> {
    if !any_positive(bars.iter().map(|b| b.value)) {
        return None;
    }
    let (h, left, bottom, top) = (190.0, 48.0, 26.0, 10.0);
    let plot_h = h - bottom - top;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let (axis_top, step) = nice_axis(max);
    let mut out = open(id, aria, h);
    out.push_str(&y_grid(left, top, plot_h, axis_top, step));
    let slot = (W - left - 8.0) / bars.len() as f64;
    let every = (bars.len() / 16).max(1);
    for (i, b) in bars.iter().enumerate() {
        let bh = if b.value > 0.0 {
            (b.value / axis_top * plot_h).max(1.5)
        } else {
            0.0
        };
        let x = left + i as f64 * slot + slot * 0.1;
        let _ = write!(
            out,
            "<g><title>{label}: {text}</title><rect class=\"mark\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" rx=\"1.5\" fill=\"{color}\"/>",
            label = esc(&b.label),
            text = esc(&b.text),
            y = top + plot_h - bh,
            bw = slot * 0.8,
            color = b.color,
        );
        if i % every == 0 {
            let _ = write!(
                out,
                "<text class=\"lbl\" x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text>",
                esc_short(&b.label, 8),
                cx = x + slot * 0.4,
                ly = h - 9.0,
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    Some(out)
}

/// Horizontal grid lines and value labels from 0 to `axis_top`.
fn y_grid(left: f64, top: f64, plot_h: f64, axis_top: f64, step: f64) -> String {
    let mut out = String::new();
    let mut v = 0.0;
    while v <= axis_top + step * 0.01 {
        let y = top + plot_h - v / axis_top * plot_h;
        let _ = write!(
            out,
            "<line class=\"gl\" x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"lbl\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
            num(v),
            x2 = W - 4.0,
            lx = left - 5.0,
            ty = y + 3.5,
        );
        v += step;
    }
    out
}

/// A series of steps over the run's time (a rate), with its average as a
/// dashed line.
pub fn steps(id: &str, aria: &str, series: &[Step], avg: f64, color: &str) -> Option<String> {
    if !any_positive(series.iter().map(|s| s.v)) {
        return None;
    }
    let (h, left, bottom, top) = (200.0, 56.0, 26.0, 12.0);
    let plot_w = W - left - 12.0;
    let plot_h = h - bottom - top;
    let t_end = series.iter().map(|s| s.t1).fold(0.0, f64::max).max(1e-9);
    let max = series.iter().map(|s| s.v).fold(avg, f64::max);
    let (axis_top, step) = nice_axis(max);
    let x = |t: f64| left + t / t_end * plot_w;
    let y = |v: f64| top + plot_h - v / axis_top * plot_h;
    let mut out = open(id, aria, h);
    out.push_str(&y_grid(left, top, plot_h, axis_top, step));
    out.push_str(&time_axis(t_end, &x, h - 9.0));
    let mut line = String::new();
    for (i, s) in series.iter().enumerate() {
        let cmd = if i == 0 { 'M' } else { 'L' };
        let _ = write!(
            line,
            "{cmd}{:.1},{:.1}L{:.1},{:.1}",
            x(s.t0),
            y(s.v),
            x(s.t1),
            y(s.v)
        );
    }
    let first = series.first().map_or(0.0, |s| s.t0);
    let last = series.last().map_or(0.0, |s| s.t1);
    let _ = write!(
        out,
        "<path class=\"area\" d=\"{line}L{:.1},{base:.1}L{:.1},{base:.1}Z\" fill=\"{color}\" fill-opacity=\"0.15\"/>\
         <path class=\"mark\" d=\"{line}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"><title>{}</title></path>",
        x(last),
        x(first),
        esc(aria),
        base = y(0.0),
    );
    if avg > 0.0 {
        let _ = write!(
            out,
            "<line class=\"avg\" x1=\"{left}\" x2=\"{x2:.1}\" y1=\"{ya:.1}\" y2=\"{ya:.1}\" stroke=\"{}\" stroke-dasharray=\"5 4\"/><text class=\"lbl\" x=\"{x2:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">average {}</text>",
            super::svg::color::GREY,
            num(avg),
            x2 = W - 14.0,
            ya = y(avg),
            ty = y(avg) - 4.0,
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// Time labels along the bottom, at round seconds.
fn time_axis(t_end: f64, x: &dyn Fn(f64) -> f64, label_y: f64) -> String {
    let (_, step) = nice_axis(t_end);
    let mut out = String::new();
    let mut t = 0.0;
    while t <= t_end + step * 0.01 {
        let _ = write!(
            out,
            "<text class=\"lbl\" x=\"{:.1}\" y=\"{label_y:.1}\" text-anchor=\"middle\">{}</text>",
            x(t),
            short_time(t)
        );
        t += step;
    }
    out
}

/// `0`, `45s`, `2m30s`, `1h05m`.
pub fn short_time(s: f64) -> String {
    let s = s.max(0.0);
    if s < 10.0 && s.fract() != 0.0 {
        return format!("{s:.1}s");
    }
    let t = s.round() as u64;
    match t {
        0 => "0".into(),
        1..60 => format!("{t}s"),
        60..3600 if t.is_multiple_of(60) => format!("{}m", t / 60),
        60..3600 => format!("{}m{:02}s", t / 60, t % 60),
        _ => format!("{}h{:02}m", t / 3600, (t % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
        assert_eq!(nice_axis(9.0), (10.0, 2.5));
        assert_eq!(nice_axis(123.0), (150.0, 50.0));
        assert_eq!(nice_axis(1000.0), (1000.0, 250.0));
        assert_eq!(short_time(0.0), "0");
        assert_eq!(short_time(2.5), "2.5s");
        assert_eq!(short_time(150.0), "2m30s");
        assert_eq!(short_time(3900.0), "1h05m");
    }

    #[test]
    fn nothing_to_draw_is_none_and_marks_are_escaped() {
        assert!(hbars("x", "x", &[Bar::new("a", 0.0, color::RED)]).is_none());
        assert!(vbars("x", "x", &[]).is_none());
        let svg = hbars("x", "x", &[Bar::new("<b>", 2.0, color::RED)]).unwrap_or_default();
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
        assert_eq!(svg.matches("class=\"mark\"").count(), 1);
        let s = [Step {
            t0: 0.0,
            t1: 10.0,
            v: 5.0,
        }];
        let svg = steps("r", "rate", &s, 5.0, color::BLUE).unwrap_or_default();
        assert!(
            svg.contains("class=\"mark\"") && svg.contains("average 5.00"),
            "{svg}"
        );
    }
}
