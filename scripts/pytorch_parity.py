#!/usr/bin/env python3
"""The two-stage ISTA-NAS search step of `ista-nas bench --methods ista`, written compactly in
PyTorch, to time both side by side on one NVIDIA GPU (scripts/parity.sh runs the two).

Same network (stem, L cells with reductions at L/3 and 2L/3, every candidate op built on every
edge, non-affine BN in the cells), same batch and input, same ops: each node runs only the two
ops of its support, x_i = sum_{k in S} w_k o_k(state), with w = b^T A_S - bias and A uniform
(m = 7). A step is an Adam step of b on a val batch, then an SGD step of the weights (clip 5) on a
train batch with b fixed: exactly what `bench` times. Prints ms/step and peak CUDA memory.

`--device meta` runs the same step on PyTorch's meta device: Python, the dispatcher, autograd
and the optimisers do all their work, but no kernel runs and no memory is touched, so ms/step is
the host's work per step (beside `ista-nas bench --host-only`). `--count-kernels` runs one step
on the CPU under torch.profiler and counts the kernels a CUDA run would launch: the profiler's
aten ops that have no aten op below them (leaf ops), minus the ones that only make views or
allocate (KERNEL_FREE below); each counts as one launch (cuDNN convolutions and the optimisers'
foreach ops launch one or a few kernels each on CUDA, so this is close, not exact). It also adds
up the bytes of those ops, f32: every input tensor read once, and the largest input written once
(an elementwise op's output; convolutions that widen their input write more), for the estimate
beside `bench --shapes`.
"""

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = ["max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
              "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
ISTA_NAS = {  # the published two-stage genotype (ista-nas genotype show ISTA_NAS --json)
    "normal": [["skip_connect", 0], ["dil_conv_3x3", 1], ["sep_conv_5x5", 0], ["dil_conv_3x3", 2],
               ["dil_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 2], ["skip_connect", 0]],
    "reduce": [["avg_pool_3x3", 0], ["sep_conv_5x5", 1], ["dil_conv_5x5", 2], ["max_pool_3x3", 1],
               ["dil_conv_5x5", 3], ["sep_conv_3x3", 1], ["dil_conv_5x5", 4], ["sep_conv_5x5", 1]],
}
STEPS = 4
# Leaf aten ops that launch no kernel on CUDA: views, metadata and allocation.
KERNEL_FREE = {
    "aten::empty", "aten::empty_strided", "aten::empty_like", "aten::view", "aten::_unsafe_view",
    "aten::as_strided", "aten::reshape", "aten::_reshape_alias", "aten::t", "aten::transpose",
    "aten::permute", "aten::expand", "aten::unsqueeze", "aten::squeeze", "aten::select",
    "aten::slice", "aten::detach", "aten::detach_", "aten::alias", "aten::lift_fresh",
    "aten::resolve_conj", "aten::resolve_neg", "aten::result_type", "aten::set_", "aten::resize_",
    "aten::is_nonzero", "aten::numpy_T", "aten::split", "aten::chunk", "aten::unbind",
    "aten::narrow", "aten::contiguous", "aten::_has_compatible_shallow_copy_type",
}


def bn(c):
    return nn.BatchNorm2d(c, affine=False)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), bn(c_out))


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.b = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = bn(c_out)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.a(x), self.b(x[:, :, 1:, 1:])], dim=1))


def dil_conv(c, k, stride, pad, dil):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dil, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), bn(c))


def op(name, c, stride):
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), bn(c))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False), bn(c))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name.startswith("sep_conv"):
        k = int(name[-1])
        return nn.Sequential(dil_conv(c, k, stride, k // 2, 1), dil_conv(c, k, 1, k // 2, 1))
    k = int(name[-1])
    return dil_conv(c, k, stride, k // 2 * 2, 2)


class Cell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c)
        self.pre1 = ReLUConvBN(c_p, c)
        self.edges = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(op(p, c, 2 if reduction and j < 2 else 1) for p in PRIMITIVES)
                          for j in range(i + 2)) for i in range(STEPS))

    def forward(self, s0, s1, nodes):
        states = [self.pre0(s0), self.pre1(s1)]
        for i, (support, w) in enumerate(nodes):
            states.append(sum(w[k] * self.edges[i][k // 7][k % 7](states[k // 7]) for k in support))
        return torch.cat(states[2:], dim=1)


class Network(nn.Module):
    def __init__(self, c, layers, classes, in_channels):
        super().__init__()
        c_stem = 3 * c
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_stem))
        c_pp, c_p, reduction_prev, cells = c_stem, c_stem, False, []
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            c = c * 2 if reduction else c
            cells.append(Cell(c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev, c_pp, c_p = reduction, c_p, STEPS * c
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, classes)

    def forward(self, x, normal, reduce):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        return self.classifier(s1.mean(dim=(2, 3)))


class Architecture:
    """b per node, and the constants A_S and bias of the genotype's supports (z = 1 on S)."""

    def __init__(self, genotype, m, device, gen):
        self.b, self.cells = [], {}
        for cell in ("normal", "reduce"):
            nodes = []
            for i in range(STEPS):
                n = (i + 2) * 7
                a = torch.rand(m, n, generator=gen, dtype=torch.float64)
                support = [j * 7 + PRIMITIVES.index(name) for name, j in genotype[cell][2 * i:2 * i + 2]]
                mask = torch.zeros(n, dtype=torch.float64)
                mask[support] = 1.0
                a_s = a * mask
                e_s = (a.T @ a - torch.eye(n, dtype=torch.float64)) * mask
                bias = e_s.T @ mask  # z_S = 1 on the support
                b = (1e-3 * torch.randn(m, generator=gen)).to(device).requires_grad_()
                self.b.append(b)
                nodes.append((support, a_s.float().to(device), bias.float().to(device), b))
            self.cells[cell] = nodes

    def weights(self, cell, fixed):
        return [(s, (b.detach() if fixed else b) @ a_s - bias) for s, a_s, bias, b in self.cells[cell]]


def build_step(args, genotype, device, gen):
    """One search step (an Adam step of b, then an SGD step of the weights) as a function."""
    meta = device.type == "meta"
    net = Network(args.channels, args.layers, args.classes, args.in_channels).to(device)
    arch = Architecture(genotype, 7, device, gen)
    lr = 0.1 * args.batch_size / 256
    # the optimisers' multi-tensor (foreach) path, as PyTorch picks it on CUDA
    foreach = device.type != "cpu"
    w_opt = torch.optim.SGD(net.parameters(), lr, momentum=0.9, weight_decay=3e-4, foreach=foreach)
    b_opt = torch.optim.Adam(arch.b, 6e-4, betas=(0.5, 0.999), weight_decay=1e-3, foreach=foreach)
    shape = (args.batch_size, args.in_channels, args.image_size, args.image_size)
    batches = [(torch.randn(shape), torch.randint(0, args.classes, (args.batch_size,))) for _ in range(2)]
    batches = [(x.to(device), y.to(device)) for x, y in batches]

    def step():
        (xv, yv), (xt, yt) = batches
        b_opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(xv, arch.weights("normal", False), arch.weights("reduce", False)), yv).backward()
        b_opt.step()
        w_opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xt, arch.weights("normal", True), arch.weights("reduce", True)), yt)
        loss.backward()
        clip_grad_norm(net.parameters(), 5.0)
        w_opt.step()
        # ista-nas reads the step's loss back with the epoch's figures; the meta device has none
        return None if meta else loss.item()

    return step


def clip_grad_norm(parameters, max_norm):
    """nn.utils.clip_grad_norm_ as it runs on CUDA (its foreach path), which also runs on meta."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))


def count_kernels(args):
    """Kernels (leaf aten ops that compute or copy) and bytes of one step, profiled on the CPU."""
    from torch.profiler import ProfilerActivity, profile

    gen = torch.Generator().manual_seed(args.seed)
    step = build_step(args, ISTA_NAS if not args.genotype else load_genotype(args.genotype),
                      torch.device("cpu"), gen)
    step()  # the optimisers' state exists from here on, as in a timed step
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    events = prof.events()
    kernels, nbytes = 0, 0
    for e in events:
        if not e.name.startswith("aten::") or e.name in KERNEL_FREE:
            continue
        if any(c.name.startswith("aten::") for c in e.cpu_children):
            continue
        kernels += 1
        shapes = [s for s in (e.input_shapes or []) if isinstance(s, list) and s]
        sizes = [prod(s) for s in shapes]
        nbytes += 4 * (sum(sizes) + max(sizes, default=0))
    return {"kernels": kernels, "bytes": nbytes}


def prod(shape):
    out = 1
    for d in shape:
        out *= d if isinstance(d, int) else 1
    return out


def load_genotype(path):
    with open(path) as f:
        genotype = json.load(f)
    return genotype.get("final", genotype)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--in-channels", type=int, default=1, help="1 for the embedded Fashion-MNIST, 3 for CIFAR-10")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--genotype", help="genotype JSON file (ista-nas genotype show NAME --json); default ISTA_NAS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads); default: PyTorch's own")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "meta"],
                   help="auto: CUDA when present, else the CPU; meta: host work only, no kernel runs")
    p.add_argument("--count-kernels", action="store_true",
                   help="also count the kernels and bytes of one step (torch.profiler on the CPU)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    meta = device.type == "meta"
    kernels = count_kernels(args) if args.count_kernels else None
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    genotype = load_genotype(args.genotype) if args.genotype else ISTA_NAS
    step = build_step(args, genotype, device, gen)
    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    ms = 1e3 * (time.perf_counter() - start) / args.steps
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else device.type,
        "channels": args.channels,
        "layers": args.layers,
        "kernels_per_step": kernels and kernels["kernels"],
        "bytes_per_step": kernels and kernels["bytes"],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "ms_per_step": ms,
        "images_per_s": args.batch_size * 1e3 / ms,
        "peak_allocated_bytes": torch.cuda.max_memory_allocated() if device.type == "cuda" else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved() if device.type == "cuda" else None,
    }
    print(f"pytorch {result['device']} ({result['threads']} threads): batch {args.batch_size}, {ms:.1f} ms/step, "
          f"{result['images_per_s']:.1f} images/s, peak reserved {result['peak_reserved_bytes']}")
    print("PARITY_RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
