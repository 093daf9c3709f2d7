//! `bench --shapes` output: per kernel, the launches of one step and the figures that say
//! whether they fill a GPU (a table), and every distinct launch (CSV).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::step_shapes::Launches;
use crate::kernels::launch_plan::MAX_SERIAL;

/// The header of `shapes.csv`.
pub const SHAPES_CSV_HEADER: &str = "batch,kernel,calls_per_step,groups_x,groups_y,groups_z,workgroup,threads,serial_loop,elements,bytes_read,bytes_written";

/// The CSV rows of every distinct launch of a step at batch size `batch`: one per kernel and
/// shape, under [`SHAPES_CSV_HEADER`].
pub fn shapes_csv_rows(batch: usize, launches: &[Launches]) -> String {
    let mut out = String::new();
    for l in launches {
        let p = &l.plan;
        let [x, y, z] = p.groups;
        let _ = writeln!(
            out,
            "{batch},{},{},{x},{y},{z},{},{},{},{},{},{}",
            p.kernel,
            l.count,
            p.workgroup,
            p.threads(),
            p.serial_loop,
            p.elements,
            p.bytes_read,
            p.bytes_written
        );
    }
    out
}

/// GPU memory bandwidth of the step estimate (an H100's HBM3, about 3 TB/s).
pub const ESTIMATE_BYTES_PER_S: f64 = 3e12;
/// Host and launch cost per dispatch of the step estimate.
pub const ESTIMATE_S_PER_LAUNCH: f64 = 5e-6;

/// Launches per step and the bytes they move (read and written).
pub fn step_totals(launches: &[Launches]) -> (usize, usize) {
    launches.iter().fold((0, 0), |(n, b), l| {
        (
            n + l.count,
            b + l.count * (l.plan.bytes_read + l.plan.bytes_written),
        )
    })
}

/// The step's estimate in ms: bytes moved / [`ESTIMATE_BYTES_PER_S`] + launches ×
/// [`ESTIMATE_S_PER_LAUNCH`] (the figure `scripts/host_compare.sh` sets beside PyTorch's).
pub fn estimate_ms(launches: &[Launches]) -> f64 {
    let (count, bytes) = step_totals(launches);
    1e3 * (bytes as f64 / ESTIMATE_BYTES_PER_S + count as f64 * ESTIMATE_S_PER_LAUNCH)
}

/// Per kernel: launches per step, the largest read, the fewest threads of a launch reading
/// 2²⁰ values or more, the longest serial loop and the bytes a step moves (a Markdown table).
pub fn shapes_table(launches: &[Launches]) -> String {
    #[derive(Default)]
    struct Row {
        calls: usize,
        largest: usize,
        fewest_threads: Option<usize>,
        longest: usize,
        bytes: usize,
    }
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for l in launches {
        let p = &l.plan;
        let row = rows.entry(p.kernel).or_default();
        row.calls += l.count;
        row.largest = row.largest.max(p.elements);
        if p.elements >= 1 << 20 {
            let t = p.threads();
            row.fewest_threads = Some(row.fewest_threads.map_or(t, |f| f.min(t)));
        }
        row.longest = row.longest.max(p.serial_loop);
        row.bytes += l.count * (p.bytes_read + p.bytes_written);
    }
    let mut out = String::from(
        "| kernel | launches/step | largest read (values) | fewest threads (reads ≥ 2^20) | longest serial loop | MB moved/step |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (kernel, r) in &rows {
        let _ = writeln!(
            out,
            "| {kernel} | {} | {} | {} | {} | {:.1} |",
            r.calls,
            r.largest,
            r.fewest_threads.map_or("-".into(), |t| t.to_string()),
            r.longest,
            r.bytes as f64 / 1e6
        );
    }
    let (total, _) = step_totals(launches);
    let longest = launches
        .iter()
        .map(|l| l.plan.serial_loop)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "\n{total} launches per step; longest serial loop {longest} (limit {MAX_SERIAL})"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::launch_plan::LaunchPlan;

    #[test]
    fn the_estimate_adds_bandwidth_and_launch_time() {
        let plan = LaunchPlan {
            kernel: "relu",
            groups: [1, 1, 1],
            workgroup: 256,
            serial_loop: 1,
            elements: 500_000,
            bytes_read: 2_000_000,
            bytes_written: 1_000_000,
        };
        // 10 × 3 MB / 3 TB/s = 10 µs, 10 launches × 5 µs = 50 µs
        let estimate = estimate_ms(&[Launches { plan, count: 10 }]);
        assert!((estimate - 0.06).abs() < 1e-12, "{estimate}");
    }
}
