//! The project's own kernel launches in one search step, walked from the network's shapes
//! without running it (`bench --shapes`): the supernet with every candidate op on every edge
//! (DARTS's cell; ISTA-NAS runs the ops of its support, whose launches are a subset of these),
//! forward and backward, with each launch's plan as the launch code dispatches it.

use std::collections::BTreeMap;

use crate::kernels::conv_launch_plan as conv;
use crate::kernels::depthwise_cpu::{Geometry, Planes};
use crate::kernels::launch_plan::{self as plan, LaunchPlan};
use crate::kernels::variant::KernelShape;
use crate::model::heads::NetKind;
use crate::model::skeleton::CellPlan;
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::{PRIMITIVES, STEPS};

/// One network at one batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepCase {
    /// Stem and head kind.
    pub kind: NetKind,
    /// Initial channels C.
    pub channels: usize,
    /// Cells L.
    pub layers: usize,
    /// Images per batch.
    pub batch: usize,
    /// Side of the square input images.
    pub image: usize,
    /// Channels of the input images.
    pub in_channels: usize,
}

/// Launches of one kernel at one shape: the plan and how often a step issues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launches {
    /// The launch.
    pub plan: LaunchPlan,
    /// Launches per step.
    pub count: usize,
}

/// The distinct launches of a walk, counted.
struct Walk {
    shape: KernelShape,
    /// Whether the backward computes the weights' gradients (the weight step), or only the
    /// inputs' (the architecture step, whose weights are constants).
    weight_grads: bool,
    launches: BTreeMap<String, Launches>,
}

impl Walk {
    fn add(&mut self, plan: LaunchPlan) {
        let key = format!("{plan:?}");
        self.launches
            .entry(key)
            .or_insert(Launches { plan, count: 0 })
            .count += 1;
    }

    fn column_sums(&mut self, rows: usize, n: usize) {
        for (_, p) in plan::column_sums_for(rows, n, self.shape) {
            self.add(p);
        }
    }

    /// ReLU and its backward on `[B, C, H, W]`.
    fn relu(&mut self, dims: [usize; 4]) {
        let n: usize = dims.iter().product();
        // as the launch code plans it: two inputs forward (x as gate and value) and backward
        self.add(plan::relu(n, 2));
        self.add(plan::relu(n, 2));
    }

    /// Training-mode batch norm and its backward on `[B, C, H, W]`.
    fn batch_norm(&mut self, dims: [usize; 4]) {
        match self.shape {
            KernelShape::Gpu => {
                let plans = plan::batch_norm_forward(dims);
                for p in plans.into_iter().chain(plan::batch_norm_backward(dims)) {
                    self.add(p);
                }
            }
            KernelShape::Software => {
                for (reduction, per_pixel, inputs) in [
                    ("batch_norm_statistics", "batch_norm_normalise", 1),
                    ("batch_norm_grad_sums", "batch_norm_input_grad", 2),
                ] {
                    self.add(plan::batch_norm_per_channel(reduction, dims, inputs));
                    self.add(plan::batch_norm_per_pixel(per_pixel, dims, inputs));
                }
            }
        }
    }

    /// A channel mix `[B, K, P]` → `[B, R, P]` with its column sums when cut into pieces.
    fn mix(&mut self, sizes: [usize; 4]) {
        let [b, _, r, p] = sizes;
        let planned = conv::pointwise_mix(sizes, self.shape);
        let pieces = planned.groups[2];
        self.add(planned);
        if pieces > 1 {
            self.column_sums(pieces, b * r * p);
        }
    }

    /// A 1×1 convolution `[B, K, H, W]` → R channels, forward and backward (Burn's matrix
    /// product where the pixels are not a multiple of 4).
    fn pointwise(&mut self, [b, k, h, w]: [usize; 4], r: usize) {
        let p = h * w;
        if !p.is_multiple_of(4) {
            return;
        }
        self.mix([b, k, r, p]);
        self.mix([b, r, k, p]);
        if !self.weight_grads {
            return;
        }
        let shape = self.shape;
        let (_, pieces) = conv::pointwise_weight_grad_pieces([b, k, r, p], shape);
        self.add(conv::pointwise_weight_grad([b, k, r, p], shape));
        self.column_sums(b * pieces, r * k);
    }

    /// A depthwise convolution on `[B, C, H, W]`, forward and backward; the output's dims.
    fn depthwise(&mut self, dims: [usize; 4], g: Geometry) -> [usize; 4] {
        let shape = self.shape;
        self.add(conv::depthwise_forward(dims, g));
        self.add(conv::depthwise_input_grad(dims, g));
        if self.weight_grads {
            self.add(conv::depthwise_weight_grad(dims, g, shape));
            let (_, pieces) = conv::depthwise_weight_grad_pieces(dims, g, shape);
            self.column_sums(dims[0] * pieces, dims[1] * g.kernel * g.kernel);
        }
        let p = Planes::new(dims, &g);
        [p.batch, p.channels, p.output[0], p.output[1]]
    }

    /// ReLU, depthwise k×k, 1×1, BN: a half of a separable conv, or a dilated conv (the ReLU
    /// read by the depthwise kernels as they load the input).
    fn dil_conv(&mut self, dims: [usize; 4], g: Geometry) -> [usize; 4] {
        let out = self.depthwise(dims, Geometry { relu: true, ..g });
        self.pointwise(out, out[1]);
        self.batch_norm(out);
        out
    }

    /// ReLU, 1×1, BN from `dims` to `c` channels.
    fn relu_conv_bn(&mut self, dims: [usize; 4], c: usize) {
        self.relu(dims);
        self.pointwise(dims, c);
        self.batch_norm([dims[0], c, dims[2], dims[3]]);
    }

    /// FactorizedReduce from `dims` to `c` channels at half the side (its convs are Burn's).
    fn factorized_reduce(&mut self, [b, k, h, w]: [usize; 4], c: usize) {
        self.relu([b, k, h, w]);
        self.batch_norm([b, c, h / 2, w / 2]);
    }

    /// Candidate `name` on an edge from `dims` with `stride`.
    fn op(&mut self, name: &str, dims: [usize; 4], stride: usize) {
        let [b, c, h, w] = dims;
        let out = [b, c, h / stride, w / stride];
        let geometry = |kernel: usize, stride: usize, dilation: usize| Geometry {
            kernel,
            stride,
            padding: dilation * (kernel - 1) / 2,
            dilation,
            relu: false,
        };
        match name {
            "max_pool_3x3" | "avg_pool_3x3" => self.batch_norm(out),
            "skip_connect" if stride == 2 => self.factorized_reduce(dims, c),
            "skip_connect" => {}
            "sep_conv_3x3" | "sep_conv_5x5" => {
                let k = if name == "sep_conv_3x3" { 3 } else { 5 };
                let mid = self.dil_conv(dims, geometry(k, stride, 1));
                self.dil_conv(mid, geometry(k, 1, 1));
            }
            "dil_conv_3x3" => _ = self.dil_conv(dims, geometry(3, stride, 2)),
            "dil_conv_5x5" => _ = self.dil_conv(dims, geometry(5, stride, 2)),
            _ => {}
        }
    }

    /// The stem's own launches; the side of its output and of the cell input two back.
    fn stem(&mut self, case: &StepCase) -> (usize, usize) {
        let (b, c, s) = (case.batch, case.channels, case.image);
        match case.kind {
            NetKind::Cifar => {
                self.batch_norm([b, 3 * c, s, s]);
                (s, s)
            }
            NetKind::Imagenet => {
                let half = |s: usize| s.div_ceil(2);
                let (s2, s4, s8) = (half(s), half(half(s)), half(half(half(s))));
                self.batch_norm([b, c / 2, s2, s2]);
                self.relu([b, c / 2, s2, s2]);
                self.batch_norm([b, c, s4, s4]);
                self.relu([b, c, s4, s4]);
                self.batch_norm([b, c, s8, s8]);
                (s4, s8)
            }
        }
    }
}

/// Every distinct own launch of one step of `case`, under `shape` (GPU or software adapter):
/// the architecture step's forward and backward (the weights constant: no weight gradients)
/// and the weight step's.
pub fn step_launches(case: &StepCase, shape: KernelShape) -> Vec<Launches> {
    step_launches_on(case, shape, None)
}

/// [`step_launches`] with each node running only the ops of `genotype`'s support where one is
/// given (the ISTA-NAS step `bench` times), every op on every edge otherwise.
pub fn step_launches_on(
    case: &StepCase,
    shape: KernelShape,
    genotype: Option<&Genotype>,
) -> Vec<Launches> {
    let mut all = forward_backward(case, shape, false, genotype);
    for (key, launches) in forward_backward(case, shape, true, genotype) {
        all.entry(key)
            .and_modify(|l| l.count += launches.count)
            .or_insert(launches);
    }
    sorted(all)
}

/// The distinct own launches of one forward and backward pass of the supernet, every op on
/// every edge or only `genotype`'s support, with the weights' gradients when `weight_grads`,
/// counted.
pub fn forward_backward_launches(
    case: &StepCase,
    shape: KernelShape,
    weight_grads: bool,
    genotype: Option<&Genotype>,
) -> Vec<Launches> {
    sorted(forward_backward(case, shape, weight_grads, genotype))
}

fn sorted(walk: BTreeMap<String, Launches>) -> Vec<Launches> {
    let mut all: Vec<_> = walk.into_values().collect();
    all.sort_by(|a, b| (a.plan.kernel, b.plan.elements).cmp(&(b.plan.kernel, a.plan.elements)));
    all
}

fn forward_backward(
    case: &StepCase,
    shape: KernelShape,
    weight_grads: bool,
    genotype: Option<&Genotype>,
) -> BTreeMap<String, Launches> {
    let mut walk = Walk {
        shape,
        weight_grads,
        launches: BTreeMap::new(),
    };
    let plan = CellPlan::new(
        case.kind,
        case.in_channels,
        case.channels,
        case.layers,
        (STEPS, STEPS),
    );
    let b = case.batch;
    let (mut side_prev_prev, mut side) = walk.stem(case);
    for cell in &plan.cells {
        let (c_pp, c_p, c) = cell.channels;
        if cell.reduction_prev {
            walk.factorized_reduce([b, c_pp, side_prev_prev, side_prev_prev], c);
        } else {
            walk.relu_conv_bn([b, c_pp, side, side], c);
        }
        walk.relu_conv_bn([b, c_p, side, side], c);
        let out = if cell.reduction { side / 2 } else { side };
        let supports = genotype.map(|g| g.supports(cell.reduction));
        for node in 0..STEPS {
            // coefficient k is op k % |O| on input k / |O|
            let support: Vec<usize> = match &supports {
                Some(s) => s[node].clone(),
                None => (0..(2 + node) * PRIMITIVES.len()).collect(),
            };
            for &k in &support {
                let input = k / PRIMITIVES.len();
                let stride = if cell.reduction && input < 2 { 2 } else { 1 };
                let from = if input < 2 { side } else { out };
                walk.op(PRIMITIVES[k % PRIMITIVES.len()], [b, c, from, from], stride);
            }
            if !support.is_empty() {
                let width = b * c * out * out;
                walk.add(plan::masked_mixed_op(width, support.len()));
                walk.add(plan::masked_mixed_op_grad(width, support.len()));
            }
        }
        (side_prev_prev, side) = (side, out);
    }
    walk.launches
}

/// Whether `launches` fill a GPU and fit it: every launch that reads 2²⁰ values or more runs
/// 2¹⁶ threads or more, no thread loops more than [`plan::MAX_SERIAL`] times, no grid dimension
/// passes [`plan::MAX_GROUPS`] and no binding passes [`plan::MAX_BINDING`] bytes; the first
/// launch that does not, otherwise.
pub fn first_unfit(launches: &[Launches]) -> Option<&Launches> {
    launches.iter().find(|l| {
        let p = &l.plan;
        (p.elements >= 1 << 20 && p.threads() < 1 << 16)
            || p.serial_loop > plan::MAX_SERIAL
            || p.groups.iter().any(|&g| g > plan::MAX_GROUPS)
            || p.largest_binding() > plan::MAX_BINDING
    })
}

/// The launch with the largest binding of `launches`, if any.
pub fn largest_binding(launches: &[Launches]) -> Option<&Launches> {
    launches.iter().max_by_key(|l| l.plan.largest_binding())
}

/// Whether every binding of a step of `case` fits in `limit` bytes; the launch with the largest
/// binding when one does not.
pub fn oversized(case: &StepCase, shape: KernelShape, limit: usize) -> Option<Launches> {
    let launches = step_launches(case, shape);
    largest_binding(&launches)
        .filter(|l| l.plan.largest_binding() > limit)
        .cloned()
}

/// The largest batch size up to `case.batch` whose bindings all fit in `limit` bytes (0 when
/// not even one image does): bindings grow with the batch, so a bisection finds it.
pub fn largest_fitting_batch(case: &StepCase, shape: KernelShape, limit: usize) -> usize {
    let fits = |batch: usize| oversized(&StepCase { batch, ..*case }, shape, limit).is_none();
    let (mut low, mut high) = (0, case.batch);
    if fits(high) {
        return high;
    }
    // invariant: `low` fits (or is 0), `high` does not
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    low
}
