//! The bench's results: one row per (method, batch size), ratios to DARTS measured in the same
//! run, as a CSV file and a printed table.

use serde::{Deserialize, Serialize};

use super::BenchMethod;
use super::{BenchCase, CaseTiming};

/// Columns of bench.csv.
pub const BENCH_CSV_HEADER: &str = "method,batch_size,devices,channels,layers,image_size,warmup,steps,ms_per_step,images_per_s,peak_memory_bytes,dispatches_per_step,own_dispatches_per_step,burn_dispatches_per_step,host_reads_per_step,ms_ratio_to_darts,memory_ratio_to_darts,images_per_s_vs_one_device,status";

/// One case and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// What was run.
    pub case: BenchCase,
    /// What it measured; `None` when it was skipped or failed.
    pub timing: Option<CaseTiming>,
    /// `ok`, or why there is no timing (skipped, did not fit, failed).
    pub status: String,
}

impl BenchRow {
    fn darts<'a>(&self, rows: &'a [BenchRow]) -> Option<&'a CaseTiming> {
        rows.iter()
            .find(|r| {
                r.case.method == BenchMethod::Darts
                    && r.case.batch_size == self.case.batch_size
                    && r.case.devices == self.case.devices
            })
            .and_then(|r| r.timing.as_ref())
    }

    /// ms/step of this row over DARTS's at the same batch size, when both were measured.
    pub fn ms_ratio(&self, rows: &[BenchRow]) -> Option<f64> {
        Some(self.timing.as_ref()?.ms_per_step / self.darts(rows)?.ms_per_step)
    }

    /// images/s of this row over the same case's on one device, when both were measured.
    pub fn scaling(&self, rows: &[BenchRow]) -> Option<f64> {
        let one = rows.iter().find(|r| {
            r.case.method == self.case.method
                && r.case.batch_size == self.case.batch_size
                && r.case.devices == 1
        })?;
        Some(self.timing.as_ref()?.images_per_s / one.timing.as_ref()?.images_per_s)
    }

    /// Peak memory of this row over DARTS's at the same batch size, when both were measured.
    pub fn memory_ratio(&self, rows: &[BenchRow]) -> Option<f64> {
        let mine = self.timing.as_ref()?.peak_memory_bytes? as f64;
        Some(mine / self.darts(rows)?.peak_memory_bytes? as f64)
    }
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The rows as CSV (header included); empty fields where nothing was measured.
pub fn to_csv(rows: &[BenchRow]) -> String {
    let mut csv = format!("{BENCH_CSV_HEADER}\n");
    for row in rows {
        let c = &row.case;
        let t = row.timing.as_ref();
        let status = row.status.replace([',', '\n'], ";");
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{status}\n",
            c.method.name(),
            c.batch_size,
            c.devices,
            c.channels,
            c.layers,
            opt(t.map(|t| t.image_size)),
            c.warmup,
            c.steps,
            opt(t.map(|t| format!("{:.3}", t.ms_per_step))),
            opt(t.map(|t| format!("{:.4}", t.images_per_s))),
            opt(t.and_then(|t| t.peak_memory_bytes)),
            opt(t
                .and_then(|t| t.dispatches_per_step)
                .map(|d| format!("{d:.1}"))),
            opt(t
                .and_then(CaseTiming::own_dispatches_per_step)
                .map(|d| format!("{d:.1}"))),
            opt(t
                .and_then(CaseTiming::burn_dispatches_per_step)
                .map(|d| format!("{d:.1}"))),
            opt(t
                .and_then(|t| t.host_reads_per_step)
                .map(|r| format!("{r:.2}"))),
            opt(row.ms_ratio(rows).map(|r| format!("{r:.4}"))),
            opt(row.memory_ratio(rows).map(|r| format!("{r:.4}"))),
            opt(row.scaling(rows).map(|r| format!("{r:.4}"))),
        ));
    }
    csv
}

/// A Markdown table of the rows, for the terminal and the README.
pub fn to_table(rows: &[BenchRow]) -> String {
    let mut table = String::from(
        "| method | batch | devices | ms/step | images/s | images/s vs 1 device | peak memory | dispatches/step (own + Burn's) | host reads/step | time vs DARTS | memory vs DARTS |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let ratio = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or("–".into());
        let line = match &row.timing {
            Some(t) => format!(
                "| {} | {} | {} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} |\n",
                row.case.method.name(),
                row.case.batch_size,
                row.case.devices,
                t.ms_per_step,
                t.images_per_s,
                ratio(row.scaling(rows)),
                t.peak_memory_bytes
                    .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
                    .unwrap_or("n/a".into()),
                t.own_dispatches_per_step()
                    .zip(t.burn_dispatches_per_step())
                    .map(|(own, burn)| format!("{:.0} ({own:.0} + {burn:.0})", own + burn))
                    .unwrap_or("n/a".into()),
                t.host_reads_per_step
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or("n/a".into()),
                ratio(row.ms_ratio(rows)),
                ratio(row.memory_ratio(rows)),
            ),
            None => format!(
                "| {} | {} | {} | {} | | | | | | | |\n",
                row.case.method.name(),
                row.case.batch_size,
                row.case.devices,
                row.status
            ),
        };
        table.push_str(&line);
    }
    table
}
