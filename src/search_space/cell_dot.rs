//! Draws a cell of a genotype as Graphviz DOT, as DARTS users render theirs
//! (`dot -Tpdf normal.dot -o normal.pdf`); the SVG drawing without Graphviz is `cell_svg`.

use std::fmt::Write;

use crate::search_space::cell_layout::label;
use crate::search_space::genotype::{Edge, Genotype};

/// One cell as Graphviz DOT, as DARTS's `visualize.py` draws it (inputs, nodes and output as
/// boxes, each pick an edge labelled with its op): `dot -Tpdf normal.dot -o normal.pdf`.
pub fn cell_dot(title: &str, picks: &[Edge], concat: &[usize]) -> String {
    let nodes = picks.len() / 2;
    let name = |state: usize| format!("\"{}\"", label(state));
    let mut dot = format!(
        "digraph \"{title}\" {{\n  rankdir=LR;\n  node [style=\"rounded, filled\", shape=rect, fontsize=20, height=0.5, width=0.5, penwidth=2, fontname=\"helvetica\"];\n  edge [fontsize=20, fontname=\"times\"];\n"
    );
    for state in 0..2 {
        let _ = writeln!(dot, "  {} [fillcolor=darkseagreen2];", name(state));
    }
    for state in 2..nodes + 2 {
        let _ = writeln!(dot, "  {} [fillcolor=lightblue];", name(state));
    }
    for (j, (op, input)) in picks.iter().enumerate() {
        let _ = writeln!(
            dot,
            "  {} -> {} [label=\"{op}\", fillcolor=gray];",
            name(*input),
            name(j / 2 + 2)
        );
    }
    let _ = writeln!(dot, "  \"c_{{k}}\" [fillcolor=palegoldenrod];");
    for &state in concat {
        let _ = writeln!(dot, "  {} -> \"c_{{k}}\" [fillcolor=gray];", name(state));
    }
    dot.push_str("}\n");
    dot
}

/// The normal and the reduction cell of a genotype, as two Graphviz DOT documents.
pub fn genotype_dots(genotype: &Genotype) -> (String, String) {
    (
        cell_dot("normal cell", &genotype.normal, &genotype.normal_concat),
        cell_dot("reduction cell", &genotype.reduce, &genotype.reduce_concat),
    )
}
