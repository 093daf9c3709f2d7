//! The search space: the candidate ops and cell size, genotypes (the readable result of a search
//! and the input of training), and the cells drawn as SVG and Graphviz DOT.

pub mod cell_dot;
pub mod cell_layout;
pub mod cell_svg;
pub mod genotype;
pub mod primitives;
