//! Burn module and optimiser records as bytes (the records inside checkpoints and model
//! files), with failures as typed errors naming what was being saved or restored.

use burn::module::Module;
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::Bytes;

use crate::error::{IstaError, Result};
use crate::optim::Optimiser;

fn record_error(what: &str) -> impl Fn(RecordError) -> IstaError + '_ {
    move |e| IstaError::Checkpoint(format!("{what}: {e:?}"))
}

/// The record of `module` (parameters and BN statistics) as bytes.
pub fn module_bytes<M: Module>(module: &M, what: &str) -> Result<Vec<u8>> {
    let bytes = module.clone().into_record().into_bytes();
    Ok(bytes.map_err(record_error(what))?.to_vec())
}

/// `module` with the record in `bytes` applied; an error when the record does not fit it.
pub fn load_module<M: Module>(module: M, bytes: Vec<u8>, what: &str) -> Result<M> {
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(record_error(what))?;
    module.try_load_record(record).map_err(record_error(what))
}

/// Checks that `bytes` decode as a module record (before a network is built for it).
pub fn check_record(bytes: &[u8], what: &str) -> Result<()> {
    ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map(|_| ())
        .map_err(record_error(what))
}

/// The state of `optimiser` (momentum or moment buffers) as bytes.
pub fn optimiser_bytes(optimiser: &Optimiser, what: &str) -> Result<Vec<u8>> {
    let bytes = optimiser.module_optimizer().into_bytes();
    Ok(bytes.map_err(record_error(what))?.to_vec())
}

/// `optimiser` with the state in `bytes`.
pub fn load_optimiser(optimiser: &Optimiser, bytes: Vec<u8>, what: &str) -> Result<Optimiser> {
    let inner = optimiser.module_optimizer().clone();
    let loaded = inner
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(record_error(what))?;
    Ok(optimiser.with_module_optimizer(loaded))
}
