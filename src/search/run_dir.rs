//! The run folder of a search: `config.json`, `metrics.csv`, `genotype.json` (final genotype
//! and per-epoch history), `normal.svg`, `reduce.svg` and `checkpoint.bin`, each rewritten
//! atomically after every epoch. Training runs use the same folder conventions.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::trainer::EpochRecord;
use crate::cell_svg::genotype_svgs;
use crate::error::{IstaError, Result};
use crate::framed;
use crate::genotype::Genotype;

/// Columns of metrics.csv.
pub const METRICS_HEADER: &str = "epoch,train_loss,train_acc,val_loss,val_acc,lr,supports,seconds,peak_memory_bytes,recovery_unconverged";

/// A run's folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// Where it is.
    pub path: PathBuf,
}

fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    framed::write_atomic(path, contents).map_err(|source| IstaError::Io {
        path: path.into(),
        source,
    })
}

#[derive(Serialize)]
struct GenotypeFile<'a> {
    #[serde(rename = "final")]
    last: &'a Genotype,
    history: Vec<EpochGenotype<'a>>,
}

#[derive(Serialize)]
struct EpochGenotype<'a> {
    epoch: usize,
    genotype: &'a Genotype,
}

impl RunDir {
    /// Creates a new run folder; refuses one that already holds a run.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = Self { path: path.into() };
        if dir.checkpoint_path().exists() {
            return Err(IstaError::Io {
                path: path.into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "already holds a run; continue it with --resume or choose another --out",
                ),
            });
        }
        std::fs::create_dir_all(path).map_err(|source| IstaError::Io {
            path: path.into(),
            source,
        })?;
        Ok(dir)
    }

    /// The checkpoint file.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join("checkpoint.bin")
    }

    /// Writes `config.json`.
    pub fn write_config<C: Serialize>(&self, config: &C) -> Result<()> {
        let json = serde_json::to_string_pretty(config).expect("the config always serialises");
        self.write("config.json", json.as_bytes())
    }

    /// Copies the file `from` of the folder to `to`, atomically.
    pub fn copy(&self, from: &str, to: &str) -> Result<()> {
        let target = self.path.join(to);
        let tmp = target.with_extension("tmp");
        let io = |source| IstaError::Io {
            path: target.clone(),
            source,
        };
        std::fs::copy(self.path.join(from), &tmp).map_err(io)?;
        std::fs::rename(&tmp, &target).map_err(io)
    }

    /// Writes the file `name` of the folder atomically.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<()> {
        write_atomic(&self.path.join(name), contents)
    }

    /// Writes the metrics, genotypes and drawings of `history`, then the checkpoint.
    pub fn write_epoch(&self, history: &[EpochRecord], checkpoint: &Checkpoint) -> Result<()> {
        let mut csv = format!("{METRICS_HEADER}\n");
        for r in history {
            let peak = r
                .peak_memory_bytes
                .map(|b| b.to_string())
                .unwrap_or_default();
            csv.push_str(&format!(
                "{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{:.2},{},{}\n",
                r.epoch,
                r.train_loss,
                r.train_acc,
                r.val_loss,
                r.val_acc,
                r.lr,
                r.supports,
                r.seconds,
                peak,
                r.recovery_unconverged
            ));
        }
        write_atomic(&self.path.join("metrics.csv"), csv.as_bytes())?;
        if let Some(last) = history.last() {
            let file = GenotypeFile {
                last: &last.genotype,
                history: history
                    .iter()
                    .map(|r| EpochGenotype {
                        epoch: r.epoch,
                        genotype: &r.genotype,
                    })
                    .collect(),
            };
            let json = serde_json::to_string_pretty(&file).expect("genotypes always serialise");
            write_atomic(&self.path.join("genotype.json"), json.as_bytes())?;
            let (normal, reduce) = genotype_svgs(&last.genotype);
            write_atomic(&self.path.join("normal.svg"), normal.as_bytes())?;
            write_atomic(&self.path.join("reduce.svg"), reduce.as_bytes())?;
        }
        checkpoint
            .save(&self.checkpoint_path())
            .map_err(IstaError::from)
    }
}
