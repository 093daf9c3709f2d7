//! `curves.svg`: loss (learning rate on a second axis) and accuracy per epoch, and for searches
//! how the architecture moved (changed picks, per-node ‖Δz‖ on a log scale); one run or
//! several overlaid, each in its own colour, with a legend.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{CHANGED_PICKS, DELTA_Z, LR, RunCurves, accuracy_tag, loss_tag, node_name};
use crate::error::{IstaError, Result};
use crate::search_space::primitives::STEPS;

/// Colour-blind-safe colours (Okabe–Ito), one per run or per node.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];
const LR_GREY: RGBColor = RGBColor(120, 120, 120);

fn plot_error(e: impl std::fmt::Display) -> IstaError {
    IstaError::Plot(e.to_string())
}

/// A run to draw: its legend label (empty for a run drawn alone) and its curves.
pub type Labelled<'a> = (String, &'a RunCurves);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// The SVG text of `runs`' curves under `title`.
pub fn curves_svg(runs: &[Labelled], title: &str) -> Result<String> {
    let has =
        |tag: &dyn Fn(&str) -> bool| runs.iter().any(|(_, c)| c.tags().iter().any(|t| tag(t)));
    let picks = has(&|t| t == CHANGED_PICKS);
    let delta = has(&|t| t.starts_with(DELTA_Z));
    let panels = 2 + picks as usize + delta as usize;
    let rows = panels.div_ceil(2);
    let mut text = String::new();
    {
        let root =
            SVGBackend::with_string(&mut text, (1200, 60 + 380 * rows as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root.titled(title, ("sans-serif", 20)).map_err(plot_error)?;
        let areas = root.split_evenly((rows, 2));
        let epochs = epoch_range(runs);
        loss_panel(&areas[0], runs, epochs.clone())?;
        accuracy_panel(&areas[1], runs, epochs.clone())?;
        let mut next = 2;
        if picks {
            picks_panel(&areas[next], runs, epochs.clone())?;
            next += 1;
        }
        if delta {
            delta_panel(&areas[next], runs, epochs)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

fn epoch_range(runs: &[Labelled]) -> std::ops::Range<f64> {
    let last = runs
        .iter()
        .flat_map(|(_, c)| c.epochs.iter().map(|e| e.epoch))
        .max()
        .unwrap_or(1);
    0.5..last as f64 + 0.5
}

/// Whole epochs only: a tick between two epochs gets no label.
fn epoch_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// 0 to a little above the largest value (1 when there is none).
fn upper(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    if max > 0.0 { max * 1.08 } else { 1.0 }
}

fn label(run: &str, what: &str) -> String {
    if run.is_empty() {
        what.to_string()
    } else {
        format!("{run} {what}")
    }
}

/// Colour of a run's curve: a run drawn alone uses one colour per split.
fn colour(runs: &[Labelled], run: usize, split: usize) -> RGBColor {
    if runs.len() == 1 {
        PALETTE[split % PALETTE.len()]
    } else {
        PALETTE[run % PALETTE.len()]
    }
}

/// A solid line for train, a dashed one for the held-out split, drawn on `chart`.
macro_rules! draw_splits {
    ($chart:expr, $runs:expr, $value:expr) => {
        for (i, (name, curves)) in $runs.iter().enumerate() {
            for (s, split) in ["train", curves.held_out.as_str()].into_iter().enumerate() {
                let points: Vec<(f64, f64)> = $value(curves, split);
                if points.is_empty() {
                    continue;
                }
                let c = colour($runs, i, s);
                let style = c.stroke_width(2);
                let legend = label(name, split);
                if s == 0 {
                    $chart
                        .draw_series(LineSeries::new(points, style))
                        .map_err(plot_error)?
                        .label(legend)
                        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
                } else {
                    $chart
                        .draw_series(DashedLineSeries::new(points, 6, 4, style))
                        .map_err(plot_error)?
                        .label(legend)
                        .legend(move |(x, y)| {
                            EmptyElement::at((x, y))
                                + PathElement::new([(0, 0), (6, 0)], style)
                                + PathElement::new([(11, 0), (18, 0)], style)
                        });
                }
            }
        }
    };
}

/// A panel's chart builder: its caption, margins and label areas (`y_labels` wide).
fn panel<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    y_labels: u32,
) -> ChartBuilder<'a, 'static, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(y_labels);
    builder
}

/// A line of `points` with a dot on each, in `colour`, named `name` in the legend.
fn marked_line<Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, Y>>,
    name: String,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
) -> Result<()> {
    let style = colour.stroke_width(2);
    chart
        .draw_series(LineSeries::new(points.clone(), style))
        .map_err(plot_error)?
        .label(name)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
    chart
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, colour.filled())),
        )
        .map_err(plot_error)?;
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(plot_error)
}

fn loss_panel(area: &Area, runs: &[Labelled], epochs: std::ops::Range<f64>) -> Result<()> {
    let loss = |c: &RunCurves, split: &str| c.series(&loss_tag(split));
    let top = upper(runs.iter().flat_map(|(_, c)| {
        let mut v = loss(c, "train");
        v.extend(loss(c, &c.held_out));
        v.into_iter().map(|p| p.1)
    }));
    let lr_top = upper(
        runs.iter()
            .flat_map(|(_, c)| c.series(LR).into_iter().map(|p| p.1)),
    );
    let mut chart = panel(area, "loss (learning rate: dotted, right axis)", 52)
        .right_y_label_area_size(64)
        .build_cartesian_2d(epochs.clone(), 0.0..top)
        .map_err(plot_error)?
        .set_secondary_coord(epochs, 0.0..lr_top);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(12)
        .x_label_formatter(&epoch_label)
        .y_desc("cross-entropy")
        .draw()
        .map_err(plot_error)?;
    chart
        .configure_secondary_axes()
        .y_desc("learning rate")
        .y_label_formatter(&|v| format!("{v:.1e}"))
        .draw()
        .map_err(plot_error)?;
    draw_splits!(chart, runs, loss);
    for (i, (name, curves)) in runs.iter().enumerate() {
        let c = if runs.len() == 1 {
            LR_GREY
        } else {
            colour(runs, i, 0)
        };
        let style = c.stroke_width(1);
        chart
            .draw_secondary_series(DashedLineSeries::new(curves.series(LR), 2, 3, style))
            .map_err(plot_error)?
            .label(label(name, "lr"))
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (3, 0)], style)
                    + PathElement::new([(7, 0), (10, 0)], style)
                    + PathElement::new([(14, 0), (17, 0)], style)
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn accuracy_panel(area: &Area, runs: &[Labelled], epochs: std::ops::Range<f64>) -> Result<()> {
    let accuracy = |c: &RunCurves, split: &str| {
        let points = c.series(&accuracy_tag(split));
        points.into_iter().map(|(e, a)| (e, 100.0 * a)).collect()
    };
    let mut chart = panel(area, "top-1 accuracy", 52)
        .build_cartesian_2d(epochs, 0.0..100.0)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(12)
        .x_label_formatter(&epoch_label)
        .y_desc("%")
        .draw()
        .map_err(plot_error)?;
    draw_splits!(chart, runs, accuracy);
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn picks_panel(area: &Area, runs: &[Labelled], epochs: std::ops::Range<f64>) -> Result<()> {
    let mut chart = panel(area, "(op, input) picks changed since the epoch before", 52)
        .build_cartesian_2d(epochs, 0.0..(4.0 * STEPS as f64 + 0.5))
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(12)
        .x_label_formatter(&epoch_label)
        .y_desc("picks (of 16)")
        .draw()
        .map_err(plot_error)?;
    for (i, (name, curves)) in runs.iter().enumerate() {
        let points = curves.series(CHANGED_PICKS);
        if points.is_empty() {
            continue;
        }
        let colour = PALETTE[i % PALETTE.len()];
        marked_line(&mut chart, label(name, "changed picks"), colour, points)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// A named line of points in one colour.
type Line = (String, RGBColor, Vec<(f64, f64)>);

/// Per-node ‖Δz‖ for one run; for several runs, the largest over each run's active nodes.
fn delta_panel(area: &Area, runs: &[Labelled], epochs: std::ops::Range<f64>) -> Result<()> {
    let mut lines: Vec<Line> = Vec::new();
    for (i, (name, curves)) in runs.iter().enumerate() {
        let nodes: Vec<Vec<(f64, f64)>> = (0..2 * STEPS)
            .map(|n| curves.series(&format!("{DELTA_Z}{}", node_name(n))))
            .collect();
        if runs.len() == 1 {
            for (n, points) in nodes.into_iter().enumerate() {
                lines.push((node_name(n), PALETTE[n % PALETTE.len()], points));
            }
        } else {
            let mut max: std::collections::BTreeMap<u64, f64> = Default::default();
            for (e, v) in nodes.into_iter().flatten() {
                let m = max.entry(e as u64).or_insert(0.0);
                *m = m.max(v);
            }
            let points = max.into_iter().map(|(e, v)| (e as f64, v)).collect();
            lines.push((label(name, "max"), PALETTE[i % PALETTE.len()], points));
        }
    }
    let positive = |v: &f64| *v > 0.0 && v.is_finite();
    let values = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.1))
        .filter(positive);
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if hi > 0.0 {
        (lo / 2.0, hi * 2.0)
    } else {
        (1e-4, 1.0)
    };
    let mut chart = panel(area, "‖z_new − z_old‖₂ per node while searching", 64)
        .build_cartesian_2d(epochs, (lo..hi).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(12)
        .x_label_formatter(&epoch_label)
        .y_desc("‖Δz‖₂ (log)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(plot_error)?;
    for (name, c, points) in lines {
        let points: Vec<(f64, f64)> = points.into_iter().filter(|p| positive(&p.1)).collect();
        if points.is_empty() {
            continue;
        }
        marked_line(&mut chart, name, c, points)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}
