//! Draws a cell of a genotype as a standalone SVG (no graphviz): inputs on the left, the nodes,
//! the concatenated output on the right; each pick is an arrow labelled with its op.

use std::fmt::Write;

use crate::genotype::{Edge, Genotype};

const WIDTH: f32 = 820.0;
const HEIGHT: f32 = 320.0;

fn position(state: usize, nodes: usize) -> (f32, f32) {
    match state {
        0 => (70.0, 90.0),
        1 => (70.0, 250.0),
        _ => {
            // The nodes step down a diagonal, so that no edge runs along another.
            let i = (state - 2) as f32;
            let step = 1.0 / (nodes.max(2) - 1) as f32;
            (240.0 + i * step * (WIDTH - 400.0), 70.0 + i * step * 200.0)
        }
    }
}

fn label(state: usize) -> String {
    match state {
        0 => "c_{k-2}".into(),
        1 => "c_{k-1}".into(),
        s => (s - 2).to_string(),
    }
}

/// One cell as SVG markup.
pub fn cell_svg(title: &str, picks: &[Edge], concat: &[usize]) -> String {
    let nodes = picks.len() / 2;
    let out = (WIDTH - 60.0, 170.0);
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
    let radius = 22.0;
    for (j, (op, input)) in picks.iter().enumerate() {
        let target = j / 2 + 2;
        let (x1, y1) = position(*input, nodes);
        let (x2, y2) = position(target, nodes);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        // Bend by how many states the edge skips, the node's two picks to opposite sides.
        let side = if j % 2 == 0 { 1.0 } else { -1.0 };
        let bend = side * (14.0 + 10.0 * target.saturating_sub(*input + 1) as f32);
        let (cx, cy) = (
            (x1 + x2) / 2.0 - dy / len * bend,
            (y1 + y2) / 2.0 + dx / len * bend,
        );
        let (tx, ty) = (x2 - cx, y2 - cy);
        let tlen = (tx * tx + ty * ty).sqrt().max(1.0);
        let (ex, ey) = (x2 - tx / tlen * radius, y2 - ty / tlen * radius);
        let (mx, my) = (
            0.25 * x1 + 0.5 * cx + 0.25 * x2,
            0.25 * y1 + 0.5 * cy + 0.25 * y2,
        );
        let _ = writeln!(
            svg,
            r##"<path d="M {x1:.1} {y1:.1} Q {cx:.1} {cy:.1} {ex:.1} {ey:.1}" fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>
<text x="{mx:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#a0301e" stroke="white" stroke-width="3" paint-order="stroke">{op}</text>"##,
            my + 4.0
        );
    }
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
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="{fill}" stroke="#333"/>
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
