//! The profile and launch-count outputs of `bench --profile`: profile.csv, dispatches.csv and a
//! per-case table of where a step's time goes.

use super::results::BenchRow;
use crate::profile::self_seconds;

/// Header of profile.csv.
pub const PROFILE_CSV_HEADER: &str =
    "method,batch_size,scope,calls_per_step,ms_per_step,self_ms_per_step,share_of_step";

/// Header of dispatches.csv.
pub const DISPATCHES_CSV_HEADER: &str = "method,batch_size,kernel,launches_per_step";

fn step_seconds(row: &BenchRow) -> f64 {
    let t = row.timing.as_ref();
    t.map(|t| {
        t.profile
            .iter()
            .filter(|r| !r.scope.contains('/'))
            .map(|r| r.timing.seconds)
            .sum()
    })
    .unwrap_or(0.0)
}

/// One line per (case, scope): calls and milliseconds per profiled step, and the self time's
/// share of the step.
pub fn profile_csv(rows: &[BenchRow]) -> String {
    let mut csv = format!("{PROFILE_CSV_HEADER}\n");
    for row in rows {
        let Some(t) = &row.timing else { continue };
        let (steps, total) = (row.case.steps as f64, step_seconds(row).max(1e-12));
        for (scope, timing, own) in self_seconds(&t.profile) {
            csv.push_str(&format!(
                "{},{},{scope},{:.2},{:.3},{:.3},{:.4}\n",
                row.case.method.name(),
                row.case.batch_size,
                timing.calls as f64 / steps,
                1e3 * timing.seconds / steps,
                1e3 * own / steps,
                own / total
            ));
        }
    }
    csv
}

/// One line per (case, kernel) with its launches per timed step (wgpu devices only).
pub fn dispatches_csv(rows: &[BenchRow]) -> String {
    let mut csv = format!("{DISPATCHES_CSV_HEADER}\n");
    for row in rows {
        let Some(t) = &row.timing else { continue };
        for (kernel, n) in &t.dispatches {
            let kernel = kernel.replace([',', '\n'], ";");
            let (method, batch) = (row.case.method.name(), row.case.batch_size);
            csv.push_str(&format!("{method},{batch},{kernel},{n:.1}\n"));
        }
    }
    csv
}

/// A Markdown table of one case's profile: every scope, heaviest self time first.
pub fn profile_table(row: &BenchRow) -> String {
    let Some(t) = &row.timing else {
        return String::new();
    };
    let (steps, total) = (row.case.steps as f64, step_seconds(row).max(1e-12));
    let mut scopes = self_seconds(&t.profile);
    scopes.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut table = format!(
        "{} batch {}: {:.1} ms per profiled step\n\n\
         | scope | calls/step | ms/step | self ms/step | self share |\n|---|---|---|---|---|\n",
        row.case.method.name(),
        row.case.batch_size,
        1e3 * total / steps
    );
    for (scope, timing, own) in scopes {
        table.push_str(&format!(
            "| {scope} | {:.0} | {:.2} | {:.2} | {:.1} % |\n",
            timing.calls as f64 / steps,
            1e3 * timing.seconds / steps,
            1e3 * own / steps,
            100.0 * own / total
        ));
    }
    table
}
