//! SIGTERM and SIGINT as requests to stop: the first lets the current step finish and the run
//! write a mid-epoch checkpoint, then exit with 143 (SIGTERM) or 130 (SIGINT); a second one
//! ends the process at once with the same status (as a cluster's SIGKILL after its grace period
//! would).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The signals of this process that asked the run to stop.
pub struct StopSignals {
    requested: Arc<AtomicUsize>,
}

static SIGNALS: OnceLock<StopSignals> = OnceLock::new();

impl StopSignals {
    /// The process's handlers, installed on first use.
    pub fn installed() -> anyhow::Result<&'static StopSignals> {
        if let Some(signals) = SIGNALS.get() {
            return Ok(signals);
        }
        let requested = Arc::new(AtomicUsize::new(0));
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGINT, SIGTERM};
            use signal_hook::flag;
            let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            for signal in [SIGTERM, SIGINT] {
                // registered first, so it sees the flag as the previous signal left it
                flag::register_conditional_shutdown(signal, 128 + signal, armed.clone())?;
                flag::register(signal, armed.clone())?;
                flag::register_usize(signal, requested.clone(), signal as usize)?;
            }
        }
        Ok(SIGNALS.get_or_init(|| StopSignals { requested }))
    }

    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<i32> {
        match self.requested.load(Ordering::Relaxed) {
            0 => None,
            signal => Some(signal as i32),
        }
    }
}

/// A run stopped on request, with its state saved.
#[derive(Debug, thiserror::Error)]
#[error(
    "stopped by {name} {when}; the checkpoint holds everything: `ista-nas {resume}` continues the run"
)]
pub struct Stopped {
    /// The signal's number.
    pub signal: i32,
    /// The signal's name.
    pub name: &'static str,
    /// Where in the run it stopped.
    pub when: String,
    /// The command that continues it.
    pub resume: String,
}

impl Stopped {
    /// The exit status: 128 + the signal (143 for SIGTERM, 130 for SIGINT).
    pub fn status(&self) -> i32 {
        128 + self.signal
    }
}

/// The name of `signal`.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        15 => "SIGTERM",
        2 => "SIGINT",
        _ => "a signal",
    }
}
