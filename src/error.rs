//! Typed errors of the library; the CLI adds context with `anyhow`.

use thiserror::Error;

/// Everything the library can fail with.
#[derive(Debug, Error)]
pub enum IstaError {
    /// No usable compute device for the requested choice.
    #[error(transparent)]
    Device(Box<dyn std::error::Error + Send + Sync>),
    /// A sparse-recovery problem that is malformed or too large for the chosen solver.
    #[error("sparse recovery: {0}")]
    Lasso(String),
    /// A GPU kernel failed to run or its result could not be read back.
    #[error("GPU kernel `{kernel}` failed: {message}")]
    Kernel {
        /// The kernel's name.
        kernel: &'static str,
        /// What the runtime reported.
        message: String,
    },
    /// A file of a run could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A run folder another process is running in (its lock is held).
    #[error(
        "{} is in use by another ista-nas process{}; wait for it to end, or choose another folder",
        path.display(),
        pid.map_or(String::new(), |p| format!(" (pid {p})"))
    )]
    InUse {
        /// The folder.
        path: std::path::PathBuf,
        /// The holder's process id, where it could be read.
        pid: Option<u32>,
    },
    /// A path given as a model file that is not one (a folder, another kind of file), with
    /// which files are.
    #[error("{0}")]
    NotAModel(String),
    /// A model or optimiser record could not be written or restored.
    #[error("checkpoint record: {0}")]
    Checkpoint(String),
    /// A chart could not be drawn or written.
    #[error("plot: {0}")]
    Plot(String),
    /// A NaN or infinite loss or gradient: training stopped (exit status
    /// [`NON_FINITE_EXIT`] from the command line).
    #[error("{0}")]
    NonFinite(String),
    /// Images that could not be read or decoded while a run was going.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Tensor shapes that do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
}

/// Exit status of a command whose training stopped on a NaN or infinite loss or gradient.
pub const NON_FINITE_EXIT: i32 = 3;

/// Result type of the library.
pub type Result<T> = std::result::Result<T, IstaError>;
