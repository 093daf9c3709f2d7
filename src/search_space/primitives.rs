//! The candidate operations of the search space, in index order (docs/method.md §2).

/// Op names; the position is the op index k % K of a coefficient.
pub const PRIMITIVES: [&str; 7] = [
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// Nodes per cell.
pub const STEPS: usize = 4;

/// Index of the candidate op called `name`.
pub fn op_index(name: &str) -> Option<usize> {
    PRIMITIVES.iter().position(|p| *p == name)
}

/// Coefficient of op `name` on input state `input` (the inverse of [`describe`]).
pub fn coefficient(name: &str, input: usize) -> Option<usize> {
    op_index(name).map(|op| input * PRIMITIVES.len() + op)
}

/// (op name, input state) of coefficient `k` of a node.
pub fn describe(k: usize) -> (&'static str, usize) {
    (PRIMITIVES[k % PRIMITIVES.len()], k / PRIMITIVES.len())
}
