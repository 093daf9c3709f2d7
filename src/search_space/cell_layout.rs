//! Where a cell drawing puts everything: the states, each pick's curve, and each op label on or
//! beside its own curve, clear of the other lines and labels (a search over the curves' bends
//! and the labels' places), shared by the SVG drawing.

use crate::search_space::genotype::Edge;

pub(crate) const WIDTH: f32 = 960.0;
pub(crate) const HEIGHT: f32 = 400.0;

/// Radius of a state's circle.
pub(crate) const RADIUS: f32 = 22.0;
/// Centre of the output box.
pub(crate) const OUT: (f32, f32) = (WIDTH - 60.0, 210.0);
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

/// How much of `b` lies on the states' circles, the output box or outside the canvas.
fn obstacle_cost(b: &LabelBox, nodes: usize) -> f32 {
    let circles: f32 = (0..nodes + 2)
        .map(|s| b.over_circle(position(s, nodes), RADIUS + 2.0))
        .sum();
    let output = b.overlap(&LabelBox {
        x: OUT.0,
        y: OUT.1,
        width: 80.0,
        height: 36.0,
    });
    let outside = (b.width / 2.0 - b.x).max(0.0)
        + (b.x + b.width / 2.0 - WIDTH).max(0.0)
        + (40.0 - (b.y - b.height / 2.0)).max(0.0)
        + (b.y + b.height / 2.0 - HEIGHT).max(0.0);
    circles + output + 100.0 * outside
}

/// Points along each line of a drawing that a label must keep clear of.
const SAMPLES: usize = 64;

/// The points of a quadratic Bézier, [`SAMPLES`] + 1 of them.
pub fn curve_points(curve: [(f32, f32); 3]) -> Vec<(f32, f32)> {
    (0..=SAMPLES)
        .map(|i| bezier(curve, i as f32 / SAMPLES as f32))
        .collect()
}

/// The points of a straight line, [`SAMPLES`] + 1 of them.
pub fn line_points([(x0, y0), (x1, y1)]: [(f32, f32); 2]) -> Vec<(f32, f32)> {
    (0..=SAMPLES)
        .map(|i| {
            let t = i as f32 / SAMPLES as f32;
            (x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        })
        .collect()
}

impl LabelBox {
    /// Whether (x, y) lies inside the box grown by `margin` on every side.
    pub fn contains(&self, (x, y): (f32, f32), margin: f32) -> bool {
        (x - self.x).abs() <= self.width / 2.0 + margin
            && (y - self.y).abs() <= self.height / 2.0 + margin
    }
}

/// Where everything of a cell drawing sits: each pick's curve and label, and the dashed lines
/// into the output.
#[derive(Clone, Debug)]
pub struct CellLayout {
    /// Per pick, the quadratic Bézier from its input to its node.
    pub curves: Vec<[(f32, f32); 3]>,
    /// Per pick, its op label.
    pub labels: Vec<LabelBox>,
    /// The dashed lines from the concatenated states to the output.
    pub dashed: Vec<[(f32, f32); 2]>,
}

/// The label box for `op` on `curve` that overlaps the labels `placed` so far, the other lines
/// (`others`: points of every curve but this one's and of the dashed lines), the states'
/// circles and the output box least (none, unless the cell leaves no room): its middle first,
/// then points further along the curve, then beside it.
fn place_label(
    op: &str,
    curve: [(f32, f32); 3],
    nodes: usize,
    placed: &[LabelBox],
    others: &[(f32, f32)],
) -> LabelBox {
    let cost = |b: &LabelBox| {
        let labels: f32 = placed.iter().map(|p| p.overlap(b)).sum();
        let crossings = others.iter().filter(|&&p| b.contains(p, 1.0)).count() as f32;
        labels + obstacle_cost(b, nodes) + 50.0 * crossings
    };
    let mut best = LabelBox::of(op, 0.0, 0.0);
    let mut best_cost = f32::MAX;
    for offset in [0.0, -9.0, 9.0, -17.0, 17.0, -25.0, 25.0] {
        for t in [
            0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8, 0.14, 0.86,
        ] {
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

pub(crate) fn position(state: usize, nodes: usize) -> (f32, f32) {
    match state {
        0 => (70.0, 110.0),
        1 => (70.0, 320.0),
        _ => {
            // The nodes step down a diagonal, so that no edge runs along another.
            let i = (state - 2) as f32;
            let step = 1.0 / (nodes.max(2) - 1) as f32;
            (270.0 + i * step * (WIDTH - 450.0), 80.0 + i * step * 260.0)
        }
    }
}

/// The name a drawing gives state `state`: the cell's inputs, then its nodes from 0.
pub fn label(state: usize) -> String {
    match state {
        0 => "c_{k-2}".into(),
        1 => "c_{k-1}".into(),
        s => (s - 2).to_string(),
    }
}

/// The quadratic Bézier of pick `j` from state `input`: bent by how many states the edge skips,
/// the node's two picks to opposite sides, ending on the target's circle.
fn pick_curve(j: usize, input: usize, nodes: usize, (flips, scale): (u32, f32)) -> [(f32, f32); 3] {
    let target = j / 2 + 2;
    let (x1, y1) = position(input, nodes);
    let (x2, y2) = position(target, nodes);
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let flipped = flips >> (j / 2) & 1 == 1;
    let side = if j.is_multiple_of(2) != flipped {
        1.0
    } else {
        -1.0
    };
    let bend = side * scale * (14.0 + 10.0 * target.saturating_sub(input + 1) as f32);
    let (cx, cy) = (
        (x1 + x2) / 2.0 - dy / len * bend,
        (y1 + y2) / 2.0 + dx / len * bend,
    );
    let (tx, ty) = (x2 - cx, y2 - cy);
    let tlen = (tx * tx + ty * ty).sqrt().max(1.0);
    [
        (x1, y1),
        (cx, cy),
        (x2 - tx / tlen * RADIUS, y2 - ty / tlen * RADIUS),
    ]
}

/// The bends tried, in order: (a bit per node that swaps the sides of its two picks, a scale of
/// every bend).
fn bend_patterns(nodes: usize) -> Vec<(u32, f32)> {
    let mut all = Vec::new();
    for scale in [1.0, 1.6, 0.6, 2.2, 2.8] {
        for flips in 0..1u32 << nodes.min(8) {
            all.push((flips, scale));
        }
    }
    all
}

/// The candidate label boxes of every pick that keep clear of the other lines, the circles, the
/// output box and the canvas edges: along the pick's own curve, on it or just beside it.
fn clear_candidates(
    picks: &[Edge],
    curves: &[[(f32, f32); 3]],
    dashed: &[(f32, f32)],
) -> Vec<Vec<LabelBox>> {
    let nodes = picks.len() / 2;
    let points: Vec<Vec<(f32, f32)>> = curves.iter().map(|&c| curve_points(c)).collect();
    picks
        .iter()
        .enumerate()
        .map(|(j, (op, _))| {
            let mut found = Vec::new();
            for offset in [0.0, -8.0, 8.0, -16.0, 16.0] {
                for step in 0..=20 {
                    let t = 0.5
                        + if step % 2 == 0 { 1.0 } else { -1.0 }
                            * (step / 2 + step % 2) as f32
                            * 0.04;
                    let (x, y) = bezier(curves[j], t);
                    let b = LabelBox::of(op, x, y + offset);
                    let on_line = dashed.iter().any(|&p| b.contains(p, 1.0))
                        || points
                            .iter()
                            .enumerate()
                            .any(|(k, ps)| k != j && ps.iter().any(|&p| b.contains(p, 1.0)));
                    if !on_line && obstacle_cost(&b, nodes) == 0.0 {
                        found.push(b);
                    }
                }
            }
            found
        })
        .collect()
}

/// One clear candidate per pick with no two labels overlapping, by backtracking over the picks
/// with the fewest candidates first; `None` when there is none.
fn assign(candidates: &[Vec<LabelBox>]) -> Option<Vec<LabelBox>> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&j| candidates[j].len());
    let mut chosen: Vec<Option<LabelBox>> = vec![None; candidates.len()];
    fn go(
        at: usize,
        order: &[usize],
        candidates: &[Vec<LabelBox>],
        chosen: &mut [Option<LabelBox>],
        budget: &mut usize,
    ) -> bool {
        if at == order.len() {
            return true;
        }
        let j = order[at];
        for b in &candidates[j] {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            if chosen.iter().flatten().all(|c| c.overlap(b) == 0.0) {
                chosen[j] = Some(*b);
                if go(at + 1, order, candidates, chosen, budget) {
                    return true;
                }
                chosen[j] = None;
            }
        }
        false
    }
    let mut budget = 20_000;
    go(0, &order, candidates, &mut chosen, &mut budget)
        .then(|| chosen.into_iter().flatten().collect())
}

/// The layout of a cell: the first bend of the picks' curves (see [`bend_patterns`]) under
/// which every label finds a place on or beside its own curve clear of the other lines and
/// labels; where none does, the first bend with labels placed greedily, the least overlap first.
pub fn cell_layout(picks: &[Edge], concat: &[usize]) -> CellLayout {
    let nodes = picks.len() / 2;
    let dashed: Vec<_> = concat
        .iter()
        .map(|&state| [position(state, nodes), (OUT.0 - 40.0, OUT.1)])
        .collect();
    let dashed_points: Vec<_> = dashed.iter().flat_map(|&l| line_points(l)).collect();
    let curves_for = |pattern| -> Vec<[(f32, f32); 3]> {
        picks
            .iter()
            .enumerate()
            .map(|(j, (_, input))| pick_curve(j, *input, nodes, pattern))
            .collect()
    };
    for pattern in bend_patterns(nodes) {
        let curves = curves_for(pattern);
        if let Some(labels) = assign(&clear_candidates(picks, &curves, &dashed_points)) {
            return CellLayout {
                curves,
                labels,
                dashed,
            };
        }
    }
    let curves = curves_for((0, 1.0));
    let mut labels: Vec<LabelBox> = Vec::new();
    for (j, (op, _)) in picks.iter().enumerate() {
        let mut others = dashed_points.clone();
        for (k, &c) in curves.iter().enumerate() {
            if k != j {
                others.extend(curve_points(c));
            }
        }
        let label = place_label(op, curves[j], nodes, &labels, &others);
        labels.push(label);
    }
    CellLayout {
        curves,
        labels,
        dashed,
    }
}
