//! What a run keeps on disk: the framed file format, module and optimiser records, the one
//! checkpoint shell, model files and their exports (PyTorch names, ONNX), the run folder and
//! its lock.

pub mod checkpoint;
pub mod framed;
pub mod model_file;
pub mod onnx_export;
pub mod onnx_graph;
pub mod records;
pub mod run_dir;
pub mod run_lock;
pub mod torch_names;
