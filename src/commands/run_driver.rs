//! The one driver of search, one-stage and train runs: claiming or resuming the run folder,
//! and the epoch loop that trains, prints, and writes metrics, curves, TensorBoard events and
//! the checkpoint after every epoch.

use anyhow::{Context, bail};
use ista_nas::curves::RunCurves;
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::optim::StepReport;
use ista_nas::storage::checkpoint::{RunCheckpoint, RunHeader};
use ista_nas::storage::run_dir::RunDir;
use ista_nas::storage::run_lock;

use super::options::RunOptions;
use super::run_folder::{self, progress_bar, show_step};

/// A run that advances one epoch at a time.
pub trait EpochRun {
    /// One epoch's record.
    type Record: Clone;
    /// True when no epoch is left.
    fn finished(&self) -> bool;
    /// The progress bar's label of the next epoch.
    fn label(&self) -> String;
    /// Steps per epoch.
    fn batches_per_epoch(&self) -> usize;
    /// Trains one epoch, reporting each step.
    fn run_epoch(&mut self, progress: &mut dyn FnMut(StepReport))
    -> ista_nas::Result<Self::Record>;
    /// Prints an epoch's summary.
    fn print(&self, record: &Self::Record);
    /// The run's curves so far.
    fn curves(&self, history: &[Self::Record]) -> RunCurves;
    /// Writes the epoch's files and the checkpoint.
    fn save(&self, run: &RunDir, history: &[Self::Record]) -> anyhow::Result<()>;
}

/// Runs the epochs left, writing everything after each.
pub fn drive<R: EpochRun>(
    run: &RunDir,
    runner: &mut R,
    history: &mut Vec<R::Record>,
) -> anyhow::Result<()> {
    let mut events = EventLog::create(&run.path, history.len())?;
    while !runner.finished() {
        let bar = progress_bar(runner.label(), runner.batches_per_epoch());
        let record = runner.run_epoch(&mut |step| show_step(&bar, step))?;
        bar.finish_and_clear();
        runner.print(&record);
        history.push(record);
        run_folder::write_curves(run, &mut events, &runner.curves(history))?;
        runner.save(run, history)?;
    }
    Ok(())
}

/// How a run starts: its settings, and the folder and checkpoint of a resumed run.
pub struct Start<H: RunHeader, const N: usize> {
    /// The run's settings, checked.
    pub config: H::Config,
    /// The resumed run's folder (held) and checkpoint.
    pub resumed: Option<(RunDir, RunCheckpoint<H, N>)>,
    out: Option<std::path::PathBuf>,
}

/// Resumes `--resume`'s run or checks a new run's settings (`new_config`), with the folder
/// claimed first, so that bad input or a held folder stops the run before anything is written.
pub fn start<H: RunHeader, const N: usize>(
    options: &RunOptions,
    new_config: impl FnOnce() -> anyhow::Result<H::Config>,
    problem: impl Fn(&H::Config) -> Option<String>,
) -> anyhow::Result<Start<H, N>> {
    let Some(dir) = &options.resume else {
        // a folder that exists is claimed before anything else (a new one when it is made)
        if let Some(out) = &options.out {
            run_lock::hold_existing(out)?;
        }
        let config = new_config()?;
        if let Some(problem) = problem(&config) {
            bail!(problem);
        }
        let out = options.out.clone();
        return Ok(Start {
            config,
            resumed: None,
            out,
        });
    };
    run_lock::hold_existing(dir)?;
    let run = RunDir { path: dir.clone() };
    let checkpoint =
        RunCheckpoint::<H, N>::load(&run.checkpoint_path()).context("cannot resume")?;
    let done = checkpoint.header.epochs_done();
    println!("resuming {} after epoch {done}", dir.display());
    let config = checkpoint.header.config().clone();
    if let Some(problem) = problem(&config) {
        bail!("the checkpoint's settings: {problem}");
    }
    Ok(Start {
        config,
        resumed: Some((run, checkpoint)),
        out: None,
    })
}

/// A run's folder, the checkpoint it resumes from, and the records of its epochs so far.
pub struct Opened<H: RunHeader, const N: usize> {
    /// The run folder (held).
    pub run: RunDir,
    /// The checkpoint of a resumed run.
    pub checkpoint: Option<RunCheckpoint<H, N>>,
    /// The records of the epochs done.
    pub history: Vec<H::Record>,
}

impl<H: RunHeader, const N: usize> Start<H, N> {
    /// The run folder (a new run's is made now, named `kind`, holding `config` as the run
    /// uses it), the checkpoint to resume from, and the history so far.
    pub fn folder(self, kind: &str, seed: u64, config: &H::Config) -> anyhow::Result<Opened<H, N>>
    where
        H::Config: serde::Serialize,
    {
        Ok(match self.resumed {
            Some((run, checkpoint)) => {
                let history = checkpoint.header.history().to_vec();
                Opened {
                    run,
                    checkpoint: Some(checkpoint),
                    history,
                }
            }
            None => {
                let run = run_folder::create(self.out, kind, seed, config)?;
                Opened {
                    run,
                    checkpoint: None,
                    history: Vec::new(),
                }
            }
        })
    }
}
