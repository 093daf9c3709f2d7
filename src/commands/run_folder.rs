//! What the long-running commands (search, train) share: a new run folder and per-epoch
//! progress bars.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use ista_nas::curves::RunCurves;
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::optim::StepReport;
use ista_nas::storage::run_dir::RunDir;
use serde::Serialize;

/// Creates the run folder `out` (default: runs/<kind>-<seed>-<unix time>) with its config.json.
pub fn create(
    out: Option<PathBuf>,
    kind: &str,
    seed: u64,
    config: &impl Serialize,
) -> anyhow::Result<RunDir> {
    let path = out.unwrap_or_else(|| PathBuf::from(format!("runs/{kind}-{seed}-{}", unix_time())));
    ista_nas::storage::run_lock::hold(&path)?;
    let run = RunDir::create(&path)?;
    run.write_config(config)?;
    Ok(run)
}

/// Writes the run's curves (`curves.json`, `curves.svg`) and logs its new epochs for
/// TensorBoard.
pub fn write_curves(run: &RunDir, events: &mut EventLog, curves: &RunCurves) -> anyhow::Result<()> {
    run.write_curves(curves)?;
    events.log(curves)?;
    Ok(())
}

/// Seconds since the Unix epoch, which name default run folders.
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A progress bar over `batches` steps, labelled `prefix`.
pub fn progress_bar(prefix: String, batches: usize) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        .expect("valid template")
        .progress_chars("=> ");
    ProgressBar::new(batches as u64)
        .with_style(style)
        .with_prefix(prefix)
}

/// Shows a step's position and running loss and accuracy on `bar`.
pub fn show_step(bar: &ProgressBar, step: StepReport) {
    bar.set_position(step.batch as u64);
    bar.set_message(format!(
        "loss {:.4} acc {:.1} %",
        step.loss,
        100.0 * step.accuracy
    ));
}
