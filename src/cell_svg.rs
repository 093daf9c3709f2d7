//! Draws a cell of a genotype as a standalone SVG (no graphviz): inputs on the left, the nodes,
//! the concatenated output on the right; each pick is an arrow labelled with its op.

use std::fmt::Write;

use crate::genotype::{Edge, Genotype};

const WIDTH: f32 = 820.0;
const HEIGHT: f32 = 320.0;

/// Radius of a state's circle.
const RADIUS: f32 = 22.0;
/// Centre of the output box.
const OUT: (f32, f32) = (WIDTH - 60.0, 170.0);
/// Font size of the op labels.
pub const LABEL_FONT: f32 = 11.0;
/// Width of a label character, a little above a sans-serif font's average at `LABEL_FONT`.
pub const LABEL_CHAR_WIDTH: f32 = 6.6;
/// Height of a label's box.
pub const LABEL_HEIGHT: f32 = 13.0;

/// Where an op label sits: the centre of its text box, and the box's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelBox {
    /// Centre, horizontally.
    pub x: f32,
    /// Centre, vertically.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

impl LabelBox {
    /// The box of `text` centred at (x, y).
    pub fn of(text: &str, x: f32, y: f32) -> Self {
        Self {
            x,
            y,
            width: text.chars().count() as f32 * LABEL_CHAR_WIDTH + 4.0,
            height: LABEL_HEIGHT,
        }
    }

    /// The area `self` and `other` share.
    pub fn overlap(&self, other: &LabelBox) -> f32 {
        let w = (self.width + other.width) / 2.0 - (self.x - other.x).abs();
        let h = (self.height + other.height) / 2.0 - (self.y - other.y).abs();
        w.max(0.0) * h.max(0.0)
    }

    /// The area of `self` inside the circle of radius `r` around (cx, cy), roughly: that of
    /// the box around the circle.
    fn over_circle(&self, (cx, cy): (f32, f32), r: f32) -> f32 {
        self.overlap(&LabelBox {
            x: cx,
            y: cy,
            width: 2.0 * r,
            height: 2.0 * r,
        })
    }
}

/// A point of the quadratic Bézier `curve` at `t`.
fn bezier([(x0, y0), (x1, y1), (x2, y2)]: [(f32, f32); 3], t: f32) -> (f32, f32) {
    let u = 1.0 - t;
    (
        u * u * x0 + 2.0 * u * t * x1 + t * t * x2,
        u * u * y0 + 2.0 * u * t * y1 + t * t * y2,
    )
}

/// The label box for `op` on `curve` that overlaps the labels `placed` so far, the states'
/// circles and the output box least (none, unless the cell leaves no room): its middle first,
/// then points further along the curve, then just beside it.
fn place_label(op: &str, curve: [(f32, f32); 3], nodes: usize, placed: &[LabelBox]) -> LabelBox {
    let cost = |b: &LabelBox| {
        let labels: f32 = placed.iter().map(|p| p.overlap(b)).sum();
        let circles: f32 = (0..nodes + 2)
            .map(|s| b.over_circle(position(s, nodes), RADIUS + 2.0))
            .sum();
        let output = b.overlap(&LabelBox {
            x: OUT.0,
            y: OUT.1,
            width: 80.0,
            height: 36.0,
        });
        let outside = (b.width / 2.0 - b.x).max(0.0) + (b.x + b.width / 2.0 - WIDTH).max(0.0);
        labels + circles + output + 100.0 * outside
    };
    let mut best = LabelBox::of(op, 0.0, 0.0);
    let mut best_cost = f32::MAX;
    for offset in [0.0, -9.0, 9.0, -17.0, 17.0] {
        for t in [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8] {
            let (x, y) = bezier(curve, t);
            let candidate = LabelBox::of(op, x, y + offset);
            let c = cost(&candidate);
            if c < best_cost {
                (best, best_cost) = (candidate, c);
            }
            if c == 0.0 {
                return best;
            }
        }
    }
    best
}

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
    let out = OUT;
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
    let mut placed: Vec<LabelBox> = Vec::new();
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
        let (ex, ey) = (x2 - tx / tlen * RADIUS, y2 - ty / tlen * RADIUS);
        let curve = [(x1, y1), (cx, cy), (ex, ey)];
        let label = place_label(op, curve, nodes, &placed);
        placed.push(label);
        let _ = writeln!(
            svg,
            r##"<path d="M {x1:.1} {y1:.1} Q {cx:.1} {cy:.1} {ex:.1} {ey:.1}" fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>
<text x="{:.1}" y="{:.1}" font-size="{LABEL_FONT}" text-anchor="middle" fill="#a0301e" stroke="white" stroke-width="3" paint-order="stroke">{op}</text>"##,
            label.x,
            label.y + 4.0
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
