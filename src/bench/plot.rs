//! SVG charts: the bench's three panels (ms/step, images/s, peak memory against batch size, one
//! line per method) and the consistency scatter plot.

use std::path::Path;

use plotters::prelude::*;

use super::BenchMethod;
use super::results::BenchRow;
use crate::error::{IstaError, Result};

const METHODS: [(BenchMethod, RGBColor); 4] = [
    (BenchMethod::Ista, RGBColor(0, 114, 178)),
    (BenchMethod::IstaOneStage, RGBColor(86, 180, 233)),
    (BenchMethod::Darts, RGBColor(213, 94, 0)),
    (BenchMethod::PcDarts, RGBColor(0, 158, 115)),
];

fn plot_error(e: impl std::fmt::Display) -> IstaError {
    IstaError::Plot(e.to_string())
}

/// Range from 0 to a little above the largest value (1 when there is none).
fn upper(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.fold(0.0f64, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

/// Writes `path`: ms/step, images/s and peak memory (MiB) against batch size, per method.
pub fn bench_svg(rows: &[BenchRow], title: &str, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, (1500, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(plot_error)?;
    let panels = root.split_evenly((1, 3));
    type Metric = fn(&BenchRow) -> Option<f64>;
    let metrics: [(&str, Metric); 3] = [
        ("ms per search step", |r| {
            r.timing.as_ref().map(|t| t.ms_per_step)
        }),
        ("training images per second", |r| {
            r.timing.as_ref().map(|t| t.images_per_s)
        }),
        ("peak memory (MiB)", |r| {
            r.timing
                .as_ref()
                .and_then(|t| t.peak_memory_bytes)
                .map(|b| b as f64 / 1048576.0)
        }),
    ];
    let max_batch = rows.iter().map(|r| r.case.batch_size).max().unwrap_or(1) as f64;
    for (panel, (name, metric)) in panels.iter().zip(metrics) {
        let top = upper(rows.iter().filter_map(metric));
        let mut chart = ChartBuilder::on(panel)
            .caption(name, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_batch * 1.08, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("batch size")
            .draw()
            .map_err(plot_error)?;
        let mut counts: Vec<usize> = rows.iter().map(|r| r.case.devices).collect();
        counts.sort_unstable();
        counts.dedup();
        for (method, base) in METHODS {
            for (k, &devices) in counts.iter().enumerate() {
                // More devices: the method's colour, lighter.
                let colour = base.mix(1.0 - 0.35 * k as f64 / counts.len() as f64);
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| r.case.method == method && r.case.devices == devices)
                    .filter_map(|r| Some((r.case.batch_size as f64, metric(r)?)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let label = match devices {
                    1 => method.name().to_string(),
                    d => format!("{} on {d} devices", method.name()),
                };
                chart
                    .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                    .map_err(plot_error)?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                    .map_err(plot_error)?;
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)
}

/// Writes `path`: a scatter of `points` (x, y), each labelled, with axis names and a title.
pub fn scatter_svg(
    points: &[(f64, f64, String)],
    (x_name, y_name): (&str, &str),
    title: &str,
    path: &Path,
) -> Result<()> {
    let root = SVGBackend::new(path, (720, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let range = |values: Vec<f64>| {
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let pad = ((hi - lo) * 0.15).max(0.5);
        if lo > hi {
            0.0..1.0
        } else {
            lo - pad..hi + pad
        }
    };
    let xs = range(points.iter().map(|p| p.0).collect());
    let ys = range(points.iter().map(|p| p.1).collect());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 17))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(xs, ys)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(x_name)
        .y_desc(y_name)
        .draw()
        .map_err(plot_error)?;
    let colour = METHODS[0].1;
    let anchors: Vec<(i32, i32)> = points
        .iter()
        .map(|(x, y, _)| chart.backend_coord(&(*x, *y)))
        .collect();
    let labels: Vec<&str> = points.iter().map(|p| p.2.as_str()).collect();
    let offsets = label_offsets(&anchors, &labels);
    chart
        .draw_series(points.iter().zip(offsets).map(|((x, y, label), offset)| {
            EmptyElement::at((*x, *y))
                + Circle::new((0, 0), 5, colour.filled())
                + Text::new(label.clone(), offset, ("sans-serif", 13))
        }))
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}

/// Offsets (from each point, in pixels) for point labels drawn at `anchors`, so that no label
/// box overlaps another label or a point: each takes the first free place of upper right, lower
/// right, upper left and lower left, in that order, else the upper right.
pub fn label_offsets(anchors: &[(i32, i32)], labels: &[&str]) -> Vec<(i32, i32)> {
    const CHAR_WIDTH: i32 = 7;
    const HEIGHT: i32 = 14;
    const DOT: i32 = 6;
    let overlaps =
        |a: [i32; 4], b: [i32; 4]| a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    let dots: Vec<[i32; 4]> = anchors
        .iter()
        .map(|&(x, y)| [x - DOT, y - DOT, x + DOT, y + DOT])
        .collect();
    let mut placed: Vec<[i32; 4]> = Vec::new();
    let mut offsets = Vec::new();
    for (&(x, y), label) in anchors.iter().zip(labels) {
        let width = CHAR_WIDTH * label.chars().count() as i32;
        let candidates = [(7, -HEIGHT), (7, 4), (-7 - width, -HEIGHT), (-7 - width, 4)];
        let box_at = |(dx, dy): (i32, i32)| [x + dx, y + dy, x + dx + width, y + dy + HEIGHT];
        let free = |&offset: &(i32, i32)| {
            let b = box_at(offset);
            !placed.iter().chain(&dots).any(|&other| overlaps(b, other))
        };
        let offset = candidates
            .iter()
            .copied()
            .find(free)
            .unwrap_or(candidates[0]);
        placed.push(box_at(offset));
        offsets.push(offset);
    }
    offsets
}
