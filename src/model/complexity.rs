//! Parameter and multiply-add counts of an evaluation network, walked from its config the way
//! the network is built (docs/method.md §8 quotes parameters without the auxiliary head).

use super::eval_network::EvalConfig;
use super::heads::NetKind;

/// Size of an evaluation network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Complexity {
    /// Trainable parameters, auxiliary head excluded.
    pub params: u64,
    /// Trainable parameters of the auxiliary head (0 without one).
    pub aux_params: u64,
    /// Multiply-adds of the convolutions and the classifier for one image (inference).
    pub multiply_adds: u64,
}

fn conv(c_in: u64, c_out: u64, k: u64, out_side: u64, groups: u64) -> (u64, u64) {
    let weights = c_out * (c_in / groups) * k * k;
    (weights, weights * out_side * out_side)
}

fn bn(c: u64) -> (u64, u64) {
    (2 * c, 0)
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0 + b.0, a.1 + b.1)
}

/// ReLU, 1×1 conv, BN.
fn relu_conv_bn(c_in: u64, c_out: u64, side: u64) -> (u64, u64) {
    add(conv(c_in, c_out, 1, side, 1), bn(c_out))
}

/// Two 1×1 stride-2 convs to C_out/2 each, concatenated, BN; `side_out` after the stride.
fn factorized_reduce(c_in: u64, c_out: u64, side_out: u64) -> (u64, u64) {
    let half = conv(c_in, c_out / 2, 1, side_out, 1);
    add(add(half, half), bn(c_out))
}

fn op(name: &str, c: u64, stride: u64, side_out: u64, extra_norms: bool) -> (u64, u64) {
    let dil = |k: u64| {
        add(
            add(conv(c, c, k, side_out, c), conv(c, c, 1, side_out, 1)),
            bn(c),
        )
    };
    match name {
        "max_pool_3x3" | "avg_pool_3x3" if extra_norms => bn(c),
        "max_pool_3x3" | "avg_pool_3x3" => (0, 0),
        "skip_connect" if stride == 1 && extra_norms => bn(c),
        "skip_connect" if stride == 1 => (0, 0),
        "skip_connect" => factorized_reduce(c, c, side_out),
        "sep_conv_3x3" => add(dil(3), dil(3)),
        "sep_conv_5x5" => add(dil(5), dil(5)),
        "dil_conv_3x3" => dil(3),
        "dil_conv_5x5" => dil(5),
        other => panic!("unknown op {other} in a validated genotype"),
    }
}

/// Counts for `config` on square inputs of side `input`, walking the network's
/// [`CellPlan`](super::skeleton::CellPlan).
pub fn complexity(config: &EvalConfig, input: usize) -> Complexity {
    let plan = config.plan();
    let (c, side) = (config.channels as u64, input as u64);
    let c_in = config.in_channels as u64;
    let mut total = (0, 0);
    // The resolution of the previous cell's output (s0 is at twice it after a reduction).
    let mut side_prev = match config.kind {
        NetKind::Cifar => {
            let c_stem = plan.cells[0].channels.0 as u64;
            total = add(conv(c_in, c_stem, 3, side, 1), bn(c_stem));
            side
        }
        NetKind::Imagenet => {
            let (s2, s4, s8) = (side.div_ceil(2), side.div_ceil(4), side.div_ceil(8));
            for stage in [
                add(conv(c_in, c / 2, 3, s2, 1), bn(c / 2)),
                add(conv(c / 2, c, 3, s4, 1), bn(c)),
                add(conv(c, c, 3, s8, 1), bn(c)),
            ] {
                total = add(total, stage);
            }
            s8
        }
    };
    for cell in &plan.cells {
        let (c_prev_prev, c_prev, c_curr) = cell.channels;
        let (c_prev_prev, c_prev, c_curr) = (c_prev_prev as u64, c_prev as u64, c_curr as u64);
        let side_in = side_prev;
        let side_out = if cell.reduction { side_in / 2 } else { side_in };
        let preprocess0 = if cell.reduction_prev {
            factorized_reduce(c_prev_prev, c_curr, side_in)
        } else {
            relu_conv_bn(c_prev_prev, c_curr, side_in)
        };
        total = add(
            total,
            add(preprocess0, relu_conv_bn(c_prev, c_curr, side_in)),
        );
        let (picks, _) = config.genotype.cell(cell.reduction);
        for (name, input) in picks {
            let stride = if cell.reduction && *input < 2 { 2 } else { 1 };
            total = add(
                total,
                op(name, c_curr, stride, side_out, config.extra_norms),
            );
        }
        side_prev = side_out;
    }
    let aux_params = if config.auxiliary {
        let norm2 = if config.kind == NetKind::Cifar {
            2 * 768
        } else {
            0
        };
        let classes = config.classes as u64;
        plan.aux_channels as u64 * 128 + 2 * 128 + 128 * 768 * 4 + norm2 + 768 * classes + classes
    } else {
        0
    };
    let (classes, c_last) = (config.classes as u64, plan.c_last as u64);
    total = add(total, (c_last * classes + classes, c_last * classes));
    Complexity {
        params: total.0,
        aux_params,
        multiply_adds: total.1,
    }
}
