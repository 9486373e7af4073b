//! Hand-written SVG, the few primitives the harnesses' plots are drawn with: text,
//! lines and rectangles with a tooltip, and short labels for values.

use std::fmt::Write as _;

/// The fonts every plot asks for.
pub const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// Escapes text for SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A latency in µs, short: `850 µs`, `1.2 ms`, `2 ms`, `35 ms`, `1.1 s`.
pub fn short_us(us: f64) -> String {
    let (v, unit) = if us < 1e3 {
        (us, "µs")
    } else if us < 1e6 {
        (us / 1e3, "ms")
    } else {
        (us / 1e6, "s")
    };
    if v >= 10.0 || (v - v.round()).abs() < 0.05 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// A count, short: `950`, `12.3k`, `1.83M`.
pub fn short_count(n: f64) -> String {
    if n < 1e3 {
        format!("{n:.0}")
    } else if n < 1e6 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{:.2}M", n / 1e6)
    }
}

/// An SVG document being written.
pub struct Svg(pub String);

impl Svg {
    /// A document of `width` × `height` on a white background.
    pub fn new(width: f64, height: f64) -> Svg {
        let mut s = Svg(String::new());
        let _ = writeln!(
            s.0,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">
<rect width="100%" height="100%" fill="white"/>"#
        );
        s
    }

    /// Closes the document and returns it.
    pub fn finish(mut self) -> String {
        self.0.push_str("</svg>\n");
        self.0
    }

    /// Text at (`x`, `y`), anchored `anchor` (start, middle, end), with `extra`
    /// attributes.
    pub fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, extra: &str, s: &str) {
        let _ = writeln!(
            self.0,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}" {extra}>{}</text>"#,
            esc(s)
        );
    }

    /// A line from (`x1`, `y1`) to (`x2`, `y2`) with `style` attributes.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = writeln!(
            self.0,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {style}/>"#
        );
    }

    /// A rectangle filled `fill`, with `title` as its tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, title: &str) {
        let _ = writeln!(
            self.0,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{fill}"><title>{}</title></rect>"#,
            h.max(0.0),
            esc(title)
        );
    }
}
