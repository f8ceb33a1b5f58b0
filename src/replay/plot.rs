//! `fleetdeck replay --plot FILE.svg|png`: demand, ready capacity and p95 latency over
//! time, a panel per policy and one for the oracle's plan. Drawn with plotters; text uses
//! DejaVu Sans, compiled in (`assets/fonts`, Bitstream Vera licence), so no system font
//! or fontconfig is needed.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::{Backtest, MinutePoint};

const FONT: &str = "fleetdeck-sans";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Width of the image and height of a panel, pixels.
const WIDTH: u32 = 1200;
const PANEL: u32 = 240;

/// Points per line at most: longer runs are bucketed (mean demand and capacity, the
/// worst p95), so a week stays readable and a spike is never averaged away.
const MAX_POINTS: usize = 1400;

const DEMAND: RGBColor = RGBColor(90, 90, 90);
const CAPACITY: RGBColor = RGBColor(31, 119, 180);
const LATENCY: RGBColor = RGBColor(214, 39, 40);

/// What cannot be plotted.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{0}: a plot is written as .svg or .png")]
    Format(String),
    #[error("{path}: {message}")]
    Draw { path: String, message: String },
}

/// What the panels are labelled with besides the backtest.
pub struct PlotLabels<'a> {
    pub title: &'a str,
    /// Requests/s one instance serves, to draw the oracle's plan as capacity.
    pub capacity_rps_per_instance: f64,
    pub slo_p95_s: Option<f64>,
}

/// Writes the plot of `backtest` to `path` (its extension picks SVG or PNG).
pub fn plot(path: &Path, backtest: &Backtest, labels: &PlotLabels) -> Result<(), PlotError> {
    let shown = path.display().to_string();
    let draw_error = |message: String| PlotError::Draw { path: shown.clone(), message };
    register_font().map_err(|message| draw_error(message.to_string()))?;
    let height = PANEL * (backtest.runs.len() as u32 + 1) + 40;
    match format_of(path)? {
        Format::Svg => {
            let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
            draw(&root, backtest, labels).map_err(draw_error)
        }
        Format::Png => {
            let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
            draw(&root, backtest, labels).map_err(draw_error)
        }
    }
}

/// The image formats a plot is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

/// The format `path`'s extension asks for (checked before a long replay starts).
pub fn format_of(path: &Path) -> Result<Format, PlotError> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(PlotError::Format(path.display().to_string())),
    }
}

fn register_font() -> Result<(), &'static str> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font_bytes(FONT, FONT_BYTES));
    if ok { Ok(()) } else { Err("the built-in font could not be read") }
}

fn register_font_bytes(name: &str, bytes: &'static [u8]) -> bool {
    plotters::style::register_font(name, FontStyle::Normal, bytes).is_ok()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    backtest: &Backtest,
    labels: &PlotLabels,
) -> Result<(), String> {
    let error = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(error)?;
    let (title, body) = root.split_vertically(40);
    title.draw(&Text::new(labels.title.to_string(), (10, 10), (FONT, 20).into_font())).map_err(error)?;
    let panels = body.split_evenly((backtest.runs.len() + 1, 1));
    let oracle_line: Vec<MinutePoint> = oracle_timeline(backtest, labels.capacity_rps_per_instance);
    // One rps scale for every panel, so they compare at a glance.
    let top = backtest
        .runs
        .iter()
        .flat_map(|r| &r.timeline)
        .chain(&oracle_line)
        .map(|p| p.demand_rps.max(p.capacity_rps))
        .fold(1.0, f64::max)
        * 1.1;
    let hours = backtest.runs.first().map_or(1, |r| r.timeline.len()).max(1) as f64 / 60.0;
    for (i, run) in backtest.runs.iter().enumerate() {
        let card = &run.scorecard;
        let caption = format!(
            "{}: {} SLO-violation min, ${:.0} ({:.2}× oracle), {} actions",
            card.policy, card.slo_violation_minutes, card.cost_usd, card.cost_vs_oracle, card.actions
        );
        panel(&panels[i], &caption, &run.timeline, top, hours, labels.slo_p95_s, i == 0)?;
    }
    let oracle = &backtest.oracle;
    let caption = format!(
        "oracle (clairvoyant lower bound): ${:.0}, {} infeasible min — its plan of ready capacity",
        oracle.cost_usd, oracle.infeasible_minutes
    );
    panel(&panels[backtest.runs.len()], &caption, &oracle_line, top, hours, None, false)?;
    root.present().map_err(error)
}

/// The oracle's planned ready capacity against the demand the runs saw.
fn oracle_timeline(backtest: &Backtest, per_instance: f64) -> Vec<MinutePoint> {
    let demand = backtest.runs.first().map(|r| r.timeline.as_slice()).unwrap_or_default();
    backtest
        .oracle
        .need
        .iter()
        .zip(demand)
        .map(|(&need, seen)| MinutePoint {
            minute: seen.minute,
            demand_rps: seen.demand_rps,
            capacity_rps: f64::from(need) * per_instance,
            p95_s: f64::NAN,
            served: seen.served,
        })
        .collect()
}

/// Buckets of at most [`MAX_POINTS`]: (hour, mean demand, mean capacity, worst p95).
fn buckets(timeline: &[MinutePoint]) -> Vec<(f64, f64, f64, f64)> {
    let size = timeline.len().div_ceil(MAX_POINTS).max(1);
    timeline
        .chunks(size)
        .map(|chunk| {
            let n = chunk.len() as f64;
            let hour = chunk[0].minute as f64 / 60.0;
            let demand = chunk.iter().map(|p| p.demand_rps).sum::<f64>() / n;
            let capacity = chunk.iter().map(|p| p.capacity_rps).sum::<f64>() / n;
            let p95 = chunk.iter().map(|p| p.p95_s).filter(|v| v.is_finite()).fold(f64::NAN, f64::max);
            (hour, demand, capacity, p95)
        })
        .collect()
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    timeline: &[MinutePoint],
    top_rps: f64,
    hours: f64,
    slo: Option<f64>,
    legend: bool,
) -> Result<(), String> {
    let error = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let font = |size: u32| (FONT, size).into_font();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .right_y_label_area_size(52)
        .build_cartesian_2d(0.0..hours, 0.0..top_rps)
        .map_err(error)?
        .set_secondary_coord(0.0..hours, (0.1..100.0).log_scale());
    chart
        .configure_mesh()
        .x_desc("hours")
        .y_desc("requests/s")
        .x_label_formatter(&|h| number(*h))
        .y_label_formatter(&|rps| number(*rps))
        .label_style(font(11))
        .axis_desc_style(font(12))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(error)?;
    let points = buckets(timeline);
    chart
        .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), DEMAND.stroke_width(1)))
        .map_err(error)?
        .label("demand")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], DEMAND));
    chart
        .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.2)), CAPACITY.stroke_width(2)))
        .map_err(error)?
        .label("ready capacity")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], CAPACITY));
    if points.iter().any(|p| p.3.is_finite()) {
        chart
            .configure_secondary_axes()
            .y_desc("p95 latency (s)")
            .y_label_formatter(&|s| number(*s))
            .label_style(font(11))
            .draw()
            .map_err(error)?;
        // Gaps (no requests) break the line rather than bridging it.
        let latency = points.iter().filter(|p| p.3.is_finite()).map(|p| (p.0, p.3.clamp(0.1, 100.0)));
        chart
            .draw_secondary_series(LineSeries::new(latency, LATENCY.stroke_width(1)))
            .map_err(error)?
            .label("p95 latency")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], LATENCY));
        if let Some(slo) = slo {
            chart
                .draw_secondary_series(LineSeries::new([(0.0, slo), (hours, slo)], LATENCY.mix(0.5)))
                .map_err(error)?
                .label("SLO")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], LATENCY.mix(0.5)));
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(11))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(error)?;
    }
    Ok(())
}

/// An axis label: at most two decimals, no trailing zeros.
fn number(v: f64) -> String {
    crate::model::words::number(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(minute: u64, p95_s: f64) -> MinutePoint {
        MinutePoint { minute, demand_rps: minute as f64, capacity_rps: 2.0, p95_s, served: 1.0 }
    }

    #[test]
    fn long_runs_are_bucketed_keeping_the_worst_latency() {
        let mut timeline: Vec<MinutePoint> = (0..2800).map(|m| point(m, 1.0)).collect();
        timeline[1001].p95_s = 42.0;
        timeline[1000].p95_s = f64::NAN;
        let points = buckets(&timeline);
        assert_eq!(points.len(), 1400);
        // Minutes 1000 and 1001 share a bucket: the spike survives, the gap is skipped.
        assert_eq!(points[500], (1000.0 / 60.0, 1000.5, 2.0, 42.0));
        assert!(buckets(&timeline[..10]).len() == 10);
    }
}

/// Plots written by the replay of a short trace: both formats, and a refused one.
#[cfg(test)]
mod files {
    use std::sync::Arc;

    use super::*;
    use crate::replay::{ReplaySpec, replay_all};
    use crate::sim::Trace;

    fn backtest() -> Backtest {
        let points =
            (0..600).map(|t| (f64::from(t), if (200..400).contains(&t) { 40.0 } else { 12.0 })).collect();
        let trace = Arc::new(Trace { points });
        let config = crate::config::fast_profile();
        replay_all(&ReplaySpec { config, group: "llm-chat".into(), trace, scale: 1.0, seed: 7 }).unwrap()
    }

    fn labels() -> PlotLabels<'static> {
        PlotLabels { title: "a step", capacity_rps_per_instance: 8.0, slo_p95_s: Some(2.0) }
    }

    #[test]
    fn an_svg_and_a_png_are_written_with_a_panel_per_policy_and_the_oracle() {
        let dir = tempfile::tempdir().unwrap();
        let backtest = backtest();
        let svg = dir.path().join("step.svg");
        plot(&svg, &backtest, &labels()).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for policy in
            ["static peak:", "AWS-like:", "HPA-like:", "fleetdeck:", "oracle (clairvoyant lower bound)"]
        {
            assert!(text.contains(policy), "{policy} missing from the SVG");
        }
        let png = dir.path().join("step.PNG");
        plot(&png, &backtest, &labels()).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // 1200 pixels wide, a 240-pixel panel for each of 4 policies and the oracle, a title.
        assert_eq!(
            &bytes[16..24],
            [&1200u32.to_be_bytes()[..], &(5 * 240 + 40u32).to_be_bytes()[..]].concat()
        );
    }

    #[test]
    fn another_extension_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("step.pdf");
        let err = plot(&path, &backtest(), &labels()).unwrap_err();
        assert!(err.to_string().ends_with("step.pdf: a plot is written as .svg or .png"), "{err}");
        assert!(!path.exists());
    }
}
