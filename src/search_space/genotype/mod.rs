//! The genotype: per node of the normal and reduction cell, two (op, input) picks, plus the
//! nodes concatenated into the output. Serialised as JSON in DARTS's shape, e.g.
//! `{"normal": [["sep_conv_3x3", 0], ...], "normal_concat": [2, 3, 4, 5], "reduce": ..., "reduce_concat": ...}`.

pub mod literal;

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::search_space::primitives::{PRIMITIVES, STEPS, coefficient, describe};

/// Picks of each node: the two (op, input) pairs summed into it.
pub const PICKS_PER_NODE: usize = 2;

/// One pick: an op name and the index of the state it reads (0, 1: cell inputs; 2..: nodes).
pub type Edge = (String, usize);

/// A cell pair found by search (or published).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genotype {
    /// Normal cell picks, two per node in node order.
    pub normal: Vec<Edge>,
    /// States concatenated into the normal cell's output.
    pub normal_concat: Vec<usize>,
    /// Reduction cell picks.
    pub reduce: Vec<Edge>,
    /// States concatenated into the reduction cell's output.
    pub reduce_concat: Vec<usize>,
}

/// Why a genotype could not be read.
#[derive(Debug, Error)]
pub enum GenotypeError {
    /// The file could not be read.
    #[error("cannot read genotype {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not valid genotype JSON.
    #[error("genotype {path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        source: serde_json::Error,
    },
    /// A name that is no built-in genotype and no file.
    #[error("{0} is neither a built-in genotype ({names}) nor a file", names = BUILTIN.join(", "))]
    Unknown(String),
    /// Valid JSON that is no genotype of this search space.
    #[error("invalid genotype: {0}")]
    Invalid(String),
}

fn edges(list: &[(&str, usize)]) -> Vec<Edge> {
    list.iter().map(|(op, i)| (op.to_string(), *i)).collect()
}

fn concat() -> Vec<usize> {
    (2..2 + STEPS).collect()
}

/// Names of the built-in genotypes.
pub const BUILTIN: [&str; 4] = [
    "DARTS_V2",
    "ISTA_NAS",
    "ISTA_NAS_ONE_STAGE",
    "ISTA_NAS_IMAGENET",
];

impl Genotype {
    /// A published genotype by name (case-insensitive, `-` for `_`): DARTS_V2, ISTA_NAS (two-stage),
    /// ISTA_NAS_ONE_STAGE, ISTA_NAS_IMAGENET (the cell the authors trained on ImageNet).
    pub fn builtin(name: &str) -> Option<Genotype> {
        let (normal, reduce) = match name.to_ascii_uppercase().replace('-', "_").as_str() {
            "DARTS_V2" => (
                [
                    ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 1),
                    ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 1),
                    ("sep_conv_3x3", 1),
                    ("skip_connect", 0),
                    ("skip_connect", 0),
                    ("dil_conv_3x3", 2),
                ],
                [
                    ("max_pool_3x3", 0),
                    ("max_pool_3x3", 1),
                    ("skip_connect", 2),
                    ("max_pool_3x3", 1),
                    ("max_pool_3x3", 0),
                    ("skip_connect", 2),
                    ("skip_connect", 2),
                    ("max_pool_3x3", 1),
                ],
            ),
            "ISTA_NAS" | "ISTA_NAS_TWO_STAGE" => (
                [
                    ("skip_connect", 0),
                    ("dil_conv_3x3", 1),
                    ("sep_conv_5x5", 0),
                    ("dil_conv_3x3", 2),
                    ("dil_conv_3x3", 1),
                    ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 2),
                    ("skip_connect", 0),
                ],
                [
                    ("avg_pool_3x3", 0),
                    ("sep_conv_5x5", 1),
                    ("dil_conv_5x5", 2),
                    ("max_pool_3x3", 1),
                    ("dil_conv_5x5", 3),
                    ("sep_conv_3x3", 1),
                    ("dil_conv_5x5", 4),
                    ("sep_conv_5x5", 1),
                ],
            ),
            "ISTA_NAS_ONE_STAGE" => (
                [
                    ("skip_connect", 0),
                    ("dil_conv_3x3", 1),
                    ("sep_conv_3x3", 1),
                    ("dil_conv_5x5", 2),
                    ("avg_pool_3x3", 3),
                    ("sep_conv_3x3", 1),
                    ("sep_conv_5x5", 1),
                    ("sep_conv_3x3", 2),
                ],
                [
                    ("avg_pool_3x3", 0),
                    ("max_pool_3x3", 1),
                    ("skip_connect", 0),
                    ("max_pool_3x3", 1),
                    ("sep_conv_5x5", 1),
                    ("avg_pool_3x3", 0),
                    ("max_pool_3x3", 0),
                    ("dil_conv_5x5", 2),
                ],
            ),
            "ISTA_NAS_IMAGENET" => (
                [
                    ("sep_conv_3x3", 1),
                    ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 1),
                    ("skip_connect", 2),
                    ("sep_conv_3x3", 1),
                    ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 1),
                    ("dil_conv_5x5", 4),
                ],
                [
                    ("skip_connect", 0),
                    ("sep_conv_3x3", 1),
                    ("dil_conv_5x5", 2),
                    ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 0),
                    ("skip_connect", 2),
                    ("sep_conv_3x3", 2),
                    ("skip_connect", 3),
                ],
            ),
            _ => return None,
        };
        Some(Genotype {
            normal: edges(&normal),
            normal_concat: concat(),
            reduce: edges(&reduce),
            reduce_concat: concat(),
        })
    }

    /// The picks and concatenated states of the reduction cell, or of the normal cell.
    pub fn cell(&self, reduction: bool) -> (&[Edge], &[usize]) {
        if reduction {
            (&self.reduce, &self.reduce_concat)
        } else {
            (&self.normal, &self.normal_concat)
        }
    }

    /// Per node, the coefficients of its picks (the inverse of [`Genotype::from_supports`]);
    /// ops outside the search space are left out, so validate first.
    pub fn supports(&self, reduction: bool) -> Vec<Vec<usize>> {
        self.cell(reduction)
            .0
            .chunks(PICKS_PER_NODE)
            .map(|node| {
                node.iter()
                    .filter_map(|(op, input)| coefficient(op, *input))
                    .collect()
            })
            .collect()
    }

    /// True for the name of the one-stage genotype, whose network has an extra BN after pool
    /// and identity ops.
    pub fn names_one_stage(name: &str) -> bool {
        name.eq_ignore_ascii_case("ISTA_NAS_ONE_STAGE")
    }

    /// The genotype of per-node supports (coefficient k = input k / 7, op k % 7), largest first.
    pub fn from_supports(normal: &[Vec<usize>], reduce: &[Vec<usize>]) -> Genotype {
        let picks = |supports: &[Vec<usize>]| -> Vec<Edge> {
            supports
                .iter()
                .flatten()
                .map(|&k| {
                    let (op, input) = describe(k);
                    (op.to_string(), input)
                })
                .collect()
        };
        Genotype {
            normal: picks(normal),
            normal_concat: concat(),
            reduce: picks(reduce),
            reduce_concat: concat(),
        }
    }

    /// The one genotype rule, checked wherever a genotype is read: exactly two picks per node
    /// of the search space, each a known op on a state its node can read, and concat lists of
    /// distinct nodes.
    pub fn validate(&self) -> Result<(), GenotypeError> {
        for (cell, picks, concat) in [
            ("normal", &self.normal, &self.normal_concat),
            ("reduce", &self.reduce, &self.reduce_concat),
        ] {
            if picks.len() != PICKS_PER_NODE * STEPS {
                return Err(GenotypeError::Invalid(format!(
                    "{cell} has {} picks; expected {PICKS_PER_NODE} for each of the {STEPS} nodes ({})",
                    picks.len(),
                    PICKS_PER_NODE * STEPS
                )));
            }
            for (j, (op, input)) in picks.iter().enumerate() {
                let node = j / PICKS_PER_NODE;
                if !PRIMITIVES.contains(&op.as_str()) {
                    return Err(GenotypeError::Invalid(format!(
                        "{cell} pick {j}: unknown op {op:?} (known: {})",
                        PRIMITIVES.join(", ")
                    )));
                }
                if *input > node + 1 {
                    return Err(GenotypeError::Invalid(format!(
                        "{cell} pick {j}: node {node} can read states 0..={}, not {input}",
                        node + 1
                    )));
                }
            }
            let mut distinct = concat.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if concat.is_empty()
                || distinct.len() != concat.len()
                || concat.iter().any(|&s| !(2..2 + STEPS).contains(&s))
            {
                return Err(GenotypeError::Invalid(format!(
                    "{cell}_concat {concat:?} must name distinct nodes among 2..={}",
                    STEPS + 1
                )));
            }
        }
        Ok(())
    }

    /// Parses and validates genotype JSON (`origin` names it in errors); a search's
    /// `genotype.json` (`{"final": …, "history": …}`) gives its final genotype.
    pub fn from_json(text: &str, origin: &str) -> Result<Genotype, GenotypeError> {
        let json = |source| GenotypeError::Json {
            path: origin.into(),
            source,
        };
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(json)?;
        if let Some(last) = value.get_mut("final") {
            value = last.take();
        }
        let genotype: Genotype = serde_json::from_value(value).map_err(json)?;
        genotype.validate()?;
        Ok(genotype)
    }

    /// A built-in name, a `Genotype(…)` literal, genotype JSON, `NAME@FILE.py` (the genotype a
    /// `genotypes.py`-style file assigns to NAME), or a file holding genotype JSON or a literal.
    pub fn load(spec: &str) -> Result<Genotype, GenotypeError> {
        if let Some(genotype) = Genotype::builtin(spec) {
            return Ok(genotype);
        }
        if literal::is_literal(spec) {
            return literal::parse(spec);
        }
        if spec.trim_start().starts_with('{') {
            return Genotype::from_json(spec, "(given inline)");
        }
        let read = |file: &str| {
            std::fs::read_to_string(Path::new(file)).map_err(|source| GenotypeError::Io {
                path: format!("{file} (built-in names: {})", BUILTIN.join(", ")),
                source,
            })
        };
        if let Some((name, file)) = spec.split_once('@')
            && !Path::new(spec).exists()
        {
            return literal::parse_named(&read(file)?, name, file);
        }
        let bare = !spec.contains(['/', '\\', '.']);
        if bare && !Path::new(spec).exists() {
            return Err(GenotypeError::Unknown(spec.to_string()));
        }
        let text = read(spec)?;
        match literal::is_literal(&text) {
            true => literal::parse(&text),
            false => Genotype::from_json(&text, spec),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a genotype always serialises")
    }
}
