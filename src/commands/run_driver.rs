//! The one driver of search, one-stage and train runs: claiming or resuming the run folder,
//! and the epoch loop that trains, prints, and writes metrics, curves, TensorBoard events and
//! the checkpoint after every epoch.

use std::cell::Cell;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ista_nas::curves::RunCurves;
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::optim::StepReport;
use ista_nas::step_metrics::{EpochEnd, StepControl};
use ista_nas::storage::checkpoint::{RunCheckpoint, RunHeader};
use ista_nas::storage::run_dir::RunDir;
use ista_nas::storage::run_lock;

use super::options::RunOptions;
use super::run_folder::{self, progress_bar, show_step};
use super::stop_signals::{StopSignals, Stopped, signal_name};

/// A run that advances one epoch at a time.
pub trait EpochRun {
    /// One epoch's record.
    type Record: Clone;
    /// The command that continues the run (`search` or `train`).
    const COMMAND: &'static str;
    /// True when no epoch is left.
    fn finished(&self) -> bool;
    /// The progress bar's label of the next epoch.
    fn label(&self) -> String;
    /// Steps per epoch.
    fn batches_per_epoch(&self) -> usize;
    /// Trains the next epoch (or the rest of a paused one), reporting each step; the report's
    /// answer may pause it after that step.
    fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> ista_nas::Result<EpochEnd<Self::Record>>;
    /// Prints an epoch's summary.
    fn print(&self, record: &Self::Record);
    /// The run's curves so far.
    fn curves(&self, history: &[Self::Record]) -> RunCurves;
    /// Writes the epoch's files and the checkpoint.
    fn save(&self, run: &RunDir, history: &[Self::Record]) -> anyhow::Result<()>;
    /// Writes the checkpoint of a paused epoch (the per-epoch files stay as they are).
    fn save_paused(&self, run: &RunDir, history: &[Self::Record]) -> anyhow::Result<()>;
    /// How often to write a mid-epoch checkpoint (`None`: at epoch ends only).
    fn checkpoint_every(&self) -> Option<Duration>;
}

/// Runs the epochs left, writing everything after each; writes a mid-epoch checkpoint when
/// `checkpoint_every` has passed, and stops with [`Stopped`] after the step during which
/// SIGTERM or SIGINT arrived, once the checkpoint is written.
pub fn drive<R: EpochRun>(
    run: &RunDir,
    runner: &mut R,
    history: &mut Vec<R::Record>,
) -> anyhow::Result<()> {
    let signals = StopSignals::installed()?;
    let mut events = EventLog::create(&run.path, history.len())?;
    let every = runner.checkpoint_every();
    let last_save = Cell::new(Instant::now());
    while !runner.finished() {
        let bar = progress_bar(runner.label(), runner.batches_per_epoch());
        let mut at = 0;
        let outcome = runner.run_epoch(&mut |step| {
            show_step(&bar, step);
            step_pause();
            at = step.batch;
            let due = every.is_some_and(|e| last_save.get().elapsed() >= e);
            match signals.requested().is_some() || due {
                true => StepControl::Break(()),
                false => StepControl::Continue(()),
            }
        })?;
        bar.finish_and_clear();
        let paused = matches!(outcome, EpochEnd::Paused);
        match outcome {
            EpochEnd::Done(record) => {
                runner.print(&record);
                history.push(record);
                run_folder::write_curves(run, &mut events, &runner.curves(history))?;
                runner.save(run, history)?;
            }
            EpochEnd::Paused => runner.save_paused(run, history)?,
        }
        last_save.set(Instant::now());
        if let Some(signal) = signals.requested() {
            let when = match paused {
                true => format!("after step {at} of epoch {}", history.len() + 1),
                false => format!("after epoch {}", history.len()),
            };
            return Err(Stopped {
                signal,
                name: signal_name(signal),
                when,
                resume: format!("{} --resume {}", R::COMMAND, run.path.display()),
            }
            .into());
        }
    }
    Ok(())
}

/// Pauses after each step for `ISTA_NAS_STEP_PAUSE_MS` (unset: none), so that the signal
/// tests can deliver two signals inside one step.
fn step_pause() {
    static PAUSE: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        let ms = std::env::var("ISTA_NAS_STEP_PAUSE_MS").ok()?;
        ms.parse().ok().map(Duration::from_millis)
    });
    if let Some(pause) = pause {
        std::thread::sleep(*pause);
    }
}

/// `minutes` as a duration (settings give checkpoint intervals in minutes).
pub fn minutes(minutes: Option<f64>) -> Option<Duration> {
    minutes.map(|m| Duration::from_secs_f64(m * 60.0))
}

/// How a run starts: its settings, and the folder and checkpoint of a resumed run.
pub struct Start<H: RunHeader, const N: usize> {
    /// The run's settings, checked.
    pub config: H::Config,
    /// The resumed run's folder (held) and checkpoint.
    pub resumed: Option<(RunDir, RunCheckpoint<H, N>)>,
    out: Option<std::path::PathBuf>,
    /// Whether `--epochs` changed a resumed run's settings (config.json is rewritten).
    extended: bool,
}

/// Resumes `--resume`'s run, extended to `epochs` when given, or checks a new run's settings
/// (`new_config`), with the folder claimed first, so that bad input or a held folder stops the
/// run before anything is written.
pub fn start<H: RunHeader, const N: usize>(
    options: &RunOptions,
    epochs: Option<usize>,
    new_config: impl FnOnce() -> anyhow::Result<H::Config>,
    problem: impl Fn(&H::Config) -> Option<String>,
) -> anyhow::Result<Start<H, N>> {
    // from here on SIGTERM and SIGINT ask the run to stop after a step
    StopSignals::installed()?;
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
            extended: false,
        });
    };
    run_lock::hold_existing(dir)?;
    let run = RunDir { path: dir.clone() };
    let mut checkpoint =
        RunCheckpoint::<H, N>::load(&run.checkpoint_path()).context("cannot resume")?;
    let done = checkpoint.header.epochs_done();
    match checkpoint.header.position() {
        Some(at) => println!(
            "resuming {} at step {} of epoch {}",
            dir.display(),
            at.batch,
            done + 1
        ),
        None => println!("resuming {} after epoch {done}", dir.display()),
    }
    if let Some(epochs) = epochs {
        let counted = checkpoint.header.counted_epochs_done();
        if epochs <= counted {
            bail!(
                "--epochs {epochs} with --resume: the run has done {counted}; give more to \
                 extend it"
            );
        }
        checkpoint.header.set_epochs(epochs);
        println!(
            "extended to {epochs} epochs: the learning-rate schedule now runs over {epochs} \
             (the {counted} done kept the rates they had); config.json records it"
        );
    }
    let config = checkpoint.header.config().clone();
    if let Some(problem) = problem(&config) {
        bail!("the checkpoint's settings: {problem}");
    }
    Ok(Start {
        config,
        resumed: Some((run, checkpoint)),
        out: None,
        extended: epochs.is_some(),
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
                if self.extended {
                    run.write_config(config)?;
                }
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
