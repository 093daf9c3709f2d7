//! Draws a cell of a genotype as a standalone SVG (no graphviz): inputs on the left, the nodes,
//! the concatenated output on the right; each pick is an arrow labelled with its op, placed by
//! [`cell_layout`](crate::search_space::cell_layout).

use std::fmt::Write;

use crate::search_space::cell_layout::{
    HEIGHT, LABEL_FONT, OUT, RADIUS, WIDTH, cell_layout, label, position,
};
use crate::search_space::genotype::{Edge, Genotype};

/// One cell as SVG markup.
pub fn cell_svg(title: &str, picks: &[Edge], concat: &[usize]) -> String {
    let nodes = picks.len() / 2;
    let layout = cell_layout(picks, concat);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" font-size="16" text-anchor="middle" font-weight="bold">{title}</text>
"##,
        WIDTH / 2.0
    );
    for curve in &layout.curves {
        let [(x1, y1), (cx, cy), (ex, ey)] = *curve;
        let _ = writeln!(
            svg,
            r##"<path d="M {x1:.1} {y1:.1} Q {cx:.1} {cy:.1} {ex:.1} {ey:.1}" fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>"##
        );
    }
    // The labels over every curve, each on a white box that hides its own curve beneath it
    // (a box rather than a text outline: `paint-order` is not drawn by every renderer).
    for ((op, _), label) in picks.iter().zip(&layout.labels) {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="white"/>
<text x="{:.1}" y="{:.1}" font-size="{LABEL_FONT}" text-anchor="middle" fill="#a0301e">{op}</text>"##,
            label.x - label.width / 2.0,
            label.y - label.height / 2.0,
            label.width,
            label.height,
            label.x,
            label.y + 4.0
        );
    }
    let out = OUT;
    for &state in concat {
        let (x, y) = position(state, nodes);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 3" marker-end="url(#arrow)"/>"##,
            out.0 - 40.0,
            out.1
        );
    }
    for state in 0..nodes + 2 {
        let (x, y) = position(state, nodes);
        let fill = if state < 2 { "#cfe2f3" } else { "#fff2cc" };
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{RADIUS}" fill="{fill}" stroke="#333"/>
<text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            y + 4.0,
            label(state)
        );
    }
    let _ = write!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="80" height="36" rx="8" fill="#d9ead3" stroke="#333"/>
<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">c_{{k}}</text>
</svg>
"##,
        out.0 - 40.0,
        out.1 - 18.0,
        out.0,
        out.1 + 4.0
    );
    svg
}

/// The normal and the reduction cell of a genotype, as two SVG documents.
pub fn genotype_svgs(genotype: &Genotype) -> (String, String) {
    (
        cell_svg("normal cell", &genotype.normal, &genotype.normal_concat),
        cell_svg("reduction cell", &genotype.reduce, &genotype.reduce_concat),
    )
}
