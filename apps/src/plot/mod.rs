//! Plots as SVG documents, drawn with plotters' SVG backend: grouped bars (figures per
//! row and phase), latency CDFs on a log axis, series over time with marks, and a
//! per-slot timeline of runs and pauses. Each function returns the whole document as a
//! string, so a caller writes it to a file or inlines it into an HTML report.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// An axis of `n` named rows (bar groups, timeline lanes): row `i` spans `[i, i+1)`
/// and is labelled at its middle.
#[derive(Clone, Copy)]
struct Rows(usize);

impl Ranged for Rows {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = value / self.0.max(1) as f64;
        limit.0 + ((limit.1 - limit.0) as f64 * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.0).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0 as f64
    }
}

/// What can go wrong drawing a plot: plotters' error, as text.
#[derive(Debug)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plotting failed: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> PlotError {
        PlotError(e.to_string())
    }
}

/// Result of drawing.
pub type Result<T> = std::result::Result<T, PlotError>;

/// The fonts every plot asks for.
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// Series colours, told apart in colour and in greyscale.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// The colour of the `i`th series.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// How a value axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// From 0 up.
    Linear,
    /// Decades, for values spanning orders of magnitude (latencies).
    Log,
}

/// A latency in µs, short: `850 µs`, `1.2 ms`, `35 ms`, `1.1 s`.
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
    if n.abs() < 1e3 {
        format!("{n:.0}")
    } else if n.abs() < 1e6 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{:.2}M", n / 1e6)
    }
}

/// One series of a grouped bar chart: a value per group, `None` where it has none.
#[derive(Clone, Debug)]
pub struct Bars {
    /// The legend's name for it.
    pub name: String,
    /// One value per group.
    pub values: Vec<Option<f64>>,
}

/// A horizontal reference line across a chart (an ideal, a baseline, a target).
#[derive(Clone, Debug)]
pub struct Reference {
    /// Where.
    pub value: f64,
    /// The legend's name for it.
    pub name: String,
}

/// A bar chart with one group of bars per `groups` entry and one bar per series in
/// each. Each group may carry a note drawn above its bars (its headline figure) and a
/// mark: a black line across the group at a value (a maximum).
#[derive(Clone, Debug)]
pub struct BarChart {
    /// The panel's title.
    pub title: String,
    /// What the value axis measures.
    pub y_desc: String,
    /// The groups' names, left to right.
    pub groups: Vec<String>,
    /// The series, one bar each per group.
    pub series: Vec<Bars>,
    /// The value axis's scale.
    pub scale: Scale,
    /// Formats values on the axis.
    pub label: fn(f64) -> String,
    /// Reference lines, drawn dashed.
    pub references: Vec<Reference>,
    /// Per group, a note above its bars (empty for none).
    pub notes: Vec<String>,
    /// Per group, a value marked by a line across the group.
    pub marks: Vec<Option<f64>>,
}

impl BarChart {
    /// A chart of `series` over `groups`, without references, notes or marks.
    pub fn new(title: &str, y_desc: &str, groups: Vec<String>, series: Vec<Bars>) -> BarChart {
        BarChart {
            title: title.to_owned(),
            y_desc: y_desc.to_owned(),
            groups,
            series,
            scale: Scale::Linear,
            label: short_count,
            references: Vec::new(),
            notes: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The chart as a whole SVG document of `width` × `height`.
    pub fn svg(&self, width: u32, height: u32) -> Result<String> {
        svg(width, height, |root| self.draw(root))
    }

    /// Draws the chart on `area` (a whole document, or one panel of a figure).
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let values: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .chain(self.marks.iter().flatten().copied())
            .chain(self.references.iter().map(|r| r.value))
            .filter(|v| v.is_finite() && (self.scale == Scale::Linear || *v > 0.0))
            .collect();
        if values.is_empty() || self.groups.is_empty() {
            return empty(area, &self.title);
        }
        let (lo, hi) = span_of(&values);
        // The legend sits in the upper right corner, over the plot: a linear axis goes
        // high enough that the tallest bars stay below it (about 18 px a row, 24 px of
        // box and margin, out of the plot's height: the area less caption and labels).
        let rows = self.series.len() + self.references.len();
        let plot_px = (area.dim_in_pixel().1 as f64 - 90.0).max(60.0);
        let legend_share = ((rows * 18 + 24) as f64 / plot_px).clamp(0.13, 0.5);
        let (lo, hi) = match self.scale {
            Scale::Linear => (0.0, hi.max(1e-12) / (1.0 - legend_share)),
            Scale::Log => log_bounds(lo, hi * 1.6),
        };
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(&self.title, (FONT, 16))
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(64);
        match self.scale {
            Scale::Linear => {
                let mut c = builder.build_cartesian_2d(Rows(self.groups.len()), lo..hi)?;
                self.fill(&mut c, lo, hi)
            }
            Scale::Log => {
                let mut c =
                    builder.build_cartesian_2d(Rows(self.groups.len()), (lo..hi).log_scale())?;
                self.fill(&mut c, lo, hi)
            }
        }
    }

    fn fill<'a, DB, Y>(
        &self,
        c: &mut ChartContext<'a, DB, Cartesian2d<Rows, Y>>,
        lo: f64,
        hi: f64,
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let label = self.label;
        c.configure_mesh()
            .disable_x_mesh()
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .x_label_formatter(&|v| {
                self.groups
                    .get(v.floor() as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .y_desc(self.y_desc.as_str())
            .y_label_formatter(&|v| label(*v))
            .label_style((FONT, 12))
            .draw()?;
        let slot = 1.0 / (self.series.len() as f64 + 1.0);
        let bar = |g: usize, i: usize| {
            let left = g as f64 + slot * (0.5 + i as f64);
            (left, left + slot * 0.9)
        };
        for (i, s) in self.series.iter().enumerate() {
            let fill = colour(i);
            c.draw_series(s.values.iter().enumerate().filter_map(|(g, v)| {
                let (l, r) = bar(g, i);
                v.filter(|v| v.is_finite())
                    .map(|v| Rectangle::new([(l, lo), (r, v.clamp(lo, hi))], fill.filled()))
            }))?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill.filled()));
        }
        let group_top = |g: usize| {
            self.series
                .iter()
                .filter_map(|s| s.values.get(g).copied().flatten())
                .chain(self.marks.get(g).copied().flatten())
                .filter(|v| v.is_finite())
                .fold(lo, f64::max)
        };
        let (first, last) = (bar(0, 0).0, bar(0, self.series.len().saturating_sub(1)).1);
        if self.marks.iter().any(Option::is_some) {
            c.draw_series(self.marks.iter().enumerate().filter_map(|(g, m)| {
                m.filter(|v| v.is_finite()).map(|v| {
                    let y = v.clamp(lo, hi);
                    PathElement::new(
                        vec![(g as f64 + first, y), (g as f64 + last, y)],
                        BLACK.stroke_width(2),
                    )
                })
            }))?
            .label("max")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(2)));
        }
        c.draw_series(
            self.notes
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.is_empty())
                .map(|(g, n)| {
                    Text::new(
                        n.clone(),
                        (g as f64 + 0.5, group_top(g).min(hi)),
                        (FONT, 11)
                            .into_font()
                            .color(&NOTE)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
                }),
        )?;
        for (k, r) in self.references.iter().enumerate() {
            let stroke = REFERENCE[k % REFERENCE.len()];
            c.draw_series(DashedLineSeries::new(
                [(0.0, r.value), (self.groups.len() as f64, r.value)],
                6,
                4,
                stroke.stroke_width(2),
            ))?
            .label(r.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], stroke.stroke_width(2))
            });
        }
        legend(c)
    }
}

/// Colour of notes above bar groups.
const NOTE: RGBColor = RGBColor(0xa0, 0x40, 0x00);
/// Colours of reference lines.
const REFERENCE: [RGBColor; 3] = [
    RGBColor(0x22, 0xaa, 0x77),
    RGBColor(0x33, 0x33, 0x33),
    RGBColor(0xaa, 0x22, 0x88),
];

/// An SVG document of `width` × `height` on white, drawn by `draw`.
pub fn svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// A figure of several panels side by side under a title and a subtitle line.
pub fn panels(
    width: u32,
    height: u32,
    title: &str,
    subtitle: &str,
    panels: &[&BarChart],
) -> Result<String> {
    svg(width, height, |root| {
        let body = root.titled(title, (FONT, 20))?;
        let (sub, body) = body.split_vertically(24);
        sub.draw(&Text::new(
            subtitle.to_owned(),
            ((width / 2) as i32, 4),
            (FONT, 13)
                .into_font()
                .color(&RGBColor(0x33, 0x33, 0x33))
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        for (panel, area) in panels
            .iter()
            .zip(body.split_evenly((1, panels.len().max(1))))
        {
            panel.draw(&area)?;
        }
        Ok(())
    })
}

/// One latency distribution: its samples, in any order.
#[derive(Clone, Debug)]
pub struct Distribution {
    /// The legend's name for it.
    pub name: String,
    /// The samples, µs.
    pub samples_us: Vec<f64>,
    /// Drawn dashed: the ideal the others are compared with.
    pub ideal: bool,
}

/// Cumulative distributions of latencies on a log axis: for each latency, the share of
/// samples at or below it.
pub fn cdf(title: &str, curves: &[Distribution]) -> Result<String> {
    svg(780, 420, |root| draw_cdf(root, title, curves))
}

fn draw_cdf<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[Distribution],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let positive = |v: &f64| v.is_finite() && *v > 0.0;
    let all: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.samples_us.iter().copied())
        .filter(positive)
        .collect();
    if all.is_empty() {
        return empty(area, title);
    }
    let (lo, hi) = span_of(&all);
    let (lo, hi) = log_bounds(lo, hi);
    let mut c = ChartBuilder::on(area)
        .caption(title, (FONT, 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)?;
    c.configure_mesh()
        .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
        .x_desc("latency (log scale)")
        .y_desc("share at or below")
        .x_label_formatter(&|v| short_us(*v))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .label_style((FONT, 12))
        .draw()?;
    for (i, curve) in curves.iter().enumerate() {
        let mut s: Vec<f64> = curve.samples_us.iter().copied().filter(positive).collect();
        if s.is_empty() {
            continue;
        }
        s.sort_by(f64::total_cmp);
        let n = s.len() as f64;
        // At most ~600 points: a smooth curve, a small file.
        let step = (s.len() / 600).max(1);
        let mut points: Vec<(f64, f64)> = (0..s.len())
            .step_by(step)
            .map(|k| (s[k], (k + 1) as f64 / n))
            .collect();
        points.push((s[s.len() - 1], 1.0));
        let stroke = colour(i).stroke_width(2);
        let drawn = if curve.ideal {
            c.draw_series(DashedLineSeries::new(points, 6, 4, stroke))?
        } else {
            c.draw_series(LineSeries::new(points, stroke))?
        };
        drawn
            .label(curve.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], stroke));
    }
    legend_at(&mut c, SeriesLabelPosition::LowerRight)
}

/// One series over time: `(seconds, value)` points.
#[derive(Clone, Debug)]
pub struct Line {
    /// The legend's name for it.
    pub name: String,
    /// The points, in time order.
    pub points: Vec<(f64, f64)>,
}

/// A mark on the time axis: a thin vertical line with a short label (a new model
/// version, a burst of suspensions).
#[derive(Clone, Debug)]
pub struct Mark {
    /// When, in seconds.
    pub at: f64,
    /// What, in a few characters.
    pub label: String,
}

/// Series over time, with `marks` drawn as labelled vertical lines.
pub fn over_time(
    title: &str,
    y_desc: &str,
    lines: &[Line],
    marks: &[Mark],
    scale: Scale,
    label: fn(f64) -> String,
) -> Result<String> {
    svg(900, 380, |root| {
        let ok = |v: &f64| v.is_finite() && (scale == Scale::Linear || *v > 0.0);
        let ys: Vec<f64> = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .filter(ok)
            .collect();
        let ts: Vec<f64> = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .chain(marks.iter().map(|m| m.at))
            .filter(|t| t.is_finite())
            .collect();
        if ys.is_empty() {
            return empty(root, title);
        }
        let (t0, t1) = span_of(&ts);
        let t1 = if t1 > t0 { t1 } else { t0 + 1.0 };
        let (lo, hi) = span_of(&ys);
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70);
        let series = OverTime {
            y_desc,
            lines,
            marks,
            label,
        };
        match scale {
            Scale::Linear => {
                let hi = hi.max(1e-12) * 1.1;
                series.draw(&mut builder.build_cartesian_2d(t0..t1, 0.0..hi)?, 0.0, hi)
            }
            Scale::Log => {
                let (lo, hi) = log_bounds(lo, hi);
                series.draw(
                    &mut builder.build_cartesian_2d(t0..t1, (lo..hi).log_scale())?,
                    lo,
                    hi,
                )
            }
        }
    })
}

struct OverTime<'a> {
    y_desc: &'a str,
    lines: &'a [Line],
    marks: &'a [Mark],
    label: fn(f64) -> String,
}

impl OverTime<'_> {
    fn draw<'a, DB, Y>(
        &self,
        c: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
        lo: f64,
        hi: f64,
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let label = self.label;
        c.configure_mesh()
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .x_desc("time (s)")
            .y_desc(self.y_desc)
            .y_label_formatter(&|v| label(*v))
            .label_style((FONT, 12))
            .draw()?;
        let grey = RGBColor(0x99, 0x99, 0x99);
        c.draw_series(
            self.marks
                .iter()
                .map(|m| PathElement::new(vec![(m.at, lo), (m.at, hi)], grey.stroke_width(1))),
        )?;
        c.draw_series(self.marks.iter().map(|m| {
            Text::new(
                m.label.clone(),
                (m.at, hi),
                (FONT, 10)
                    .into_font()
                    .color(&grey)
                    .pos(Pos::new(HPos::Left, VPos::Top)),
            )
        }))?;
        for (i, l) in self.lines.iter().enumerate() {
            let stroke = colour(i).stroke_width(2);
            let points = l
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite() && p.1 >= lo);
            c.draw_series(LineSeries::new(points, stroke))?
                .label(l.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], stroke));
        }
        legend(c)
    }
}

/// What a slot was doing during a span of its timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Polling a Stream task.
    Stream,
    /// Polling a Batch task.
    Batch,
    /// A task parked on the slot, paused.
    Paused,
}

/// One span of a slot's timeline, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// What ran.
    pub activity: Activity,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// A lane of the timeline: one slot.
#[derive(Clone, Debug)]
pub struct Lane {
    /// The lane's label (`slot 0`).
    pub name: String,
    /// Its spans.
    pub spans: Vec<Span>,
}

/// Colours of a timeline's activities.
const ACTIVITIES: [(Activity, &str, RGBColor, (f64, f64)); 3] = [
    (
        Activity::Stream,
        "Stream run",
        RGBColor(0x1f, 0x77, 0xb4),
        (0.55, 0.9),
    ),
    (
        Activity::Batch,
        "Batch run",
        RGBColor(0x9a, 0xc9, 0x8a),
        (0.2, 0.55),
    ),
    (
        Activity::Paused,
        "PAUSED",
        RGBColor(0xff, 0x7f, 0x0e),
        (0.06, 0.16),
    ),
];

/// A per-slot timeline over `window` (seconds): Stream runs on the upper half of each
/// lane, Batch runs below them, and the intervals a task lay PAUSED on the slot as a
/// band at the bottom.
pub fn timeline(title: &str, lanes: &[Lane], window: Range<f64>) -> Result<String> {
    let height = (110 + 56 * lanes.len()).min(1200) as u32;
    svg(1000, height, |root| {
        if lanes.is_empty() || window.end <= window.start {
            return empty(root, title);
        }
        let mut c = ChartBuilder::on(root)
            .caption(title, (FONT, 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(window.clone(), Rows(lanes.len()))?;
        c.configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .x_desc("time (ms)")
            .x_label_formatter(&|v| format!("{:.0}", v * 1e3))
            .y_label_formatter(&|v| {
                lanes
                    .get(v.floor() as usize)
                    .map(|l| l.name.clone())
                    .unwrap_or_default()
            })
            .label_style((FONT, 12))
            .draw()?;
        for (activity, name, fill, (lo, hi)) in ACTIVITIES {
            let boxes = lanes.iter().enumerate().flat_map(|(i, l)| {
                let window = window.clone();
                l.spans
                    .iter()
                    .filter(move |s| {
                        s.activity == activity && s.end > window.start && s.start < window.end
                    })
                    .map(move |s| {
                        let (a, b) = (s.start.max(window.start), s.end.min(window.end));
                        Rectangle::new(
                            [(a, i as f64 + hi), (b.max(a), i as f64 + lo)],
                            fill.filled(),
                        )
                    })
            });
            c.draw_series(boxes)?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill.filled()));
        }
        legend(&mut c)
    })
}

fn legend<'a, DB, X, Y>(c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged,
    Y: Ranged,
{
    legend_at(c, SeriesLabelPosition::UpperRight)
}

/// The legend of the series drawn so far, boxed, at `position`.
fn legend_at<'a, DB, X, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged,
    Y: Ranged,
{
    c.configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

/// A chart with nothing to show says so rather than drawing empty axes.
fn empty<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(title.to_owned(), (12, 12), (FONT, 16)))?;
    area.draw(&Text::new(
        "no data".to_owned(),
        (w as i32 / 2, h as i32 / 2),
        (FONT, 14)
            .into_font()
            .color(&RGBColor(0x77, 0x77, 0x77))
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

fn span_of(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// Whole decades around `[lo, hi]`, so a log axis has labelled ends.
fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.max(1e-9).log10().floor());
    let hi = 10f64.powf(hi.max(lo * 10.0).log10().ceil());
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> BarChart {
        let mut c = BarChart::new(
            "latency",
            "p99",
            vec!["fifo".into(), "neptune".into()],
            vec![
                Bars {
                    name: "p50".into(),
                    values: vec![Some(30_000.0), Some(400.0)],
                },
                Bars {
                    name: "p99".into(),
                    values: vec![Some(90_000.0), None],
                },
            ],
        );
        c.scale = Scale::Log;
        c.label = short_us;
        c.references = vec![Reference {
            value: 700.0,
            name: "stream-alone p99".into(),
        }];
        c.notes = vec!["90 ms".into(), String::new()];
        c
    }

    #[test]
    fn a_bar_chart_names_its_groups_series_and_references() {
        let svg = bars().svg(800, 400).unwrap();
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
        for text in [
            "fifo",
            "neptune",
            "p50",
            "p99",
            "stream-alone p99",
            "90 ms",
            "latency",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Two p50 bars and one p99 bar (the missing value draws nothing), plus the
        // legend's three swatches and the backgrounds.
        assert!(svg.matches("<rect").count() >= 3);
    }

    #[test]
    fn panels_share_one_document_under_a_title() {
        let a = bars();
        let svg = panels(1200, 500, "MW-1", "2 slots", &[&a, &a]).unwrap();
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.contains("MW-1") && svg.contains("2 slots"));
        // plotters writes each label on a line of its own.
        assert_eq!(svg.matches("\nfifo\n").count(), 2);
    }

    #[test]
    fn charts_without_data_say_so() {
        let empty = BarChart::new("nothing", "", vec![], vec![]);
        assert!(empty.svg(400, 300).unwrap().contains("no data"));
        assert!(cdf("cdf", &[]).unwrap().contains("no data"));
        assert!(over_time("t", "y", &[], &[], Scale::Log, short_us)
            .unwrap()
            .contains("no data"));
        assert!(timeline("slots", &[], 0.0..1.0)
            .unwrap()
            .contains("no data"));
    }

    #[test]
    fn a_cdf_ends_at_the_largest_sample() {
        let d = Distribution {
            name: "neptune".into(),
            samples_us: vec![300.0, 100.0, 200.0, f64::NAN, -1.0],
            ideal: false,
        };
        let svg = cdf("cdf", &[d]).unwrap();
        assert!(svg.contains("neptune") && svg.contains("100%"));
    }

    #[test]
    fn a_timeline_draws_each_activity_with_its_legend() {
        let lane = Lane {
            name: "slot 0".into(),
            spans: vec![
                Span {
                    activity: Activity::Stream,
                    start: 0.001,
                    end: 0.002,
                },
                Span {
                    activity: Activity::Batch,
                    start: 0.002,
                    end: 0.004,
                },
                Span {
                    activity: Activity::Paused,
                    start: 0.001,
                    end: 0.003,
                },
                // Outside the window: not drawn.
                Span {
                    activity: Activity::Batch,
                    start: 2.0,
                    end: 3.0,
                },
            ],
        };
        let svg = timeline("slots", &[lane], 0.0..0.005).unwrap();
        for text in ["slot 0", "Stream run", "Batch run", "PAUSED"] {
            assert!(svg.contains(text), "{text} missing");
        }
    }

    #[test]
    fn log_bounds_are_whole_decades_around_the_values() {
        assert_eq!(log_bounds(150.0, 42_000.0), (100.0, 100_000.0));
        assert_eq!(log_bounds(100.0, 100.0), (100.0, 1000.0));
    }

    #[test]
    fn short_labels() {
        assert_eq!(short_us(850.0), "850 µs");
        assert_eq!(short_us(1_234.0), "1.2 ms");
        assert_eq!(short_us(35_000.0), "35 ms");
        assert_eq!(short_count(12_345.0), "12.3k");
        assert_eq!(short_count(1_830_000.0), "1.83M");
    }
}
