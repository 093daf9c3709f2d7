//! A run's folder (search, one-stage search, training, benchmark, study): created once its
//! inputs are checked, its files written atomically, its checkpoint at `checkpoint.bin`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::curves::RunCurves;
use crate::curves::svg::curves_svg;
use crate::error::{IstaError, Result};
use crate::search_space::cell_dot::genotype_dots;
use crate::search_space::cell_svg::genotype_svgs;
use crate::search_space::genotype::Genotype;
use crate::storage::framed;

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
        let source = self.path.join(from);
        let contents = std::fs::read(&source).map_err(|e| IstaError::Io {
            path: source,
            source: e,
        })?;
        self.write(to, &contents)
    }

    /// Writes the file `name` of the folder atomically.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<()> {
        write_atomic(&self.path.join(name), contents)
    }

    /// Writes `curves.json` and its drawing `curves.svg`.
    pub fn write_curves(&self, curves: &RunCurves) -> Result<()> {
        let json = serde_json::to_string_pretty(curves).expect("curves always serialise");
        self.write("curves.json", json.as_bytes())?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let title = match name {
            Some(name) => format!("{} — {name}", curves.kind),
            None => curves.kind.clone(),
        };
        let svg = curves_svg(&[(String::new(), curves)], &title)?;
        self.write("curves.svg", svg.as_bytes())
    }

    /// Writes `genotype.json` (`{"final": last, "history": history}`) and the drawings of
    /// the final genotype.
    pub fn write_genotypes<H: Serialize>(&self, last: &Genotype, history: &H) -> Result<()> {
        let file = GenotypeFile { last, history };
        let json = serde_json::to_string_pretty(&file).expect("genotypes always serialise");
        self.write("genotype.json", json.as_bytes())?;
        self.write_drawings(last)
    }

    /// Writes the cells of `genotype` as SVG drawings and Graphviz DOT graphs: `normal.svg`,
    /// `reduce.svg`, `normal.dot`, `reduce.dot`.
    pub fn write_drawings(&self, genotype: &Genotype) -> Result<()> {
        let (normal, reduce) = genotype_svgs(genotype);
        self.write("normal.svg", normal.as_bytes())?;
        self.write("reduce.svg", reduce.as_bytes())?;
        let (normal, reduce) = genotype_dots(genotype);
        self.write("normal.dot", normal.as_bytes())?;
        self.write("reduce.dot", reduce.as_bytes())
    }
}

#[derive(Serialize)]
struct GenotypeFile<'a, H> {
    #[serde(rename = "final")]
    last: &'a Genotype,
    history: &'a H,
}
