//! What a run keeps on disk: the framed file format, module and optimiser records, the one
//! checkpoint shell, model files, the run folder and its lock.

pub mod checkpoint;
pub mod framed;
pub mod model_file;
pub mod records;
pub mod run_dir;
pub mod run_lock;
pub mod torch_names;
