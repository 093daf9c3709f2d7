#!/usr/bin/env python3
"""Loads a model's `.safetensors` (or an `ista-nas export MODEL --torch OUT` file) into the
reference PyTorch network with load_state_dict(strict=True) and scores it on IDX test images, to
compare with `ista-nas eval --model MODEL` (loss, top-1 and top-5 should agree); with --logits
(a CSV from `ista-nas eval --model MODEL --logits CSV`) it compares the logits image by image
and fails above 1e-4 relative.

usage: python scripts/torch_load_check.py --darts ~/darts/cnn FILE [--logits CSV] [--data DIR]
       python scripts/torch_load_check.py --ista-nas ~/ISTA-NAS FILE ...   (one-stage networks)

Needs torch, torchvision (the reference utils import it) and safetensors. --darts is the cnn/
folder of a quark0/darts checkout (NetworkCIFAR of cnn/model.py); one-stage networks (BN after
pools and the identity) need --ista-nas, the root of an iboing/ISTA-NAS checkout (NetworkCIFAR
of ista_nas_single/search/models/model.py). For 1-channel data the stem's first convolution is
built with 1 input channel, the one edit those networks need. --data holds
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (default: the Fashion-MNIST subset
embedded in ista-nas).
"""
import csv
import argparse
import gzip
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


def idx(path):
    data = gzip.open(path).read()
    count = struct.unpack(">I", data[4:8])[0]
    if data[3] == 3:
        rows, cols = struct.unpack(">II", data[8:16])
        pixels = torch.tensor(list(data[16:]), dtype=torch.float32)
        return pixels.view(count, 1, rows, cols) / 255
    return torch.tensor(list(data[8:]))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--darts", help="the cnn/ folder of a DARTS checkout")
    parser.add_argument("--ista-nas", help="the root of an ISTA-NAS checkout (one-stage networks)")
    parser.add_argument("--logits", help="a CSV written by `ista-nas eval --logits`")
    parser.add_argument("--data", default=os.path.join(here, "..", "datasets", "fashion-mnist-subset"))
    parser.add_argument("model", help="a file written by `ista-nas export --torch`")
    args = parser.parse_args()
    header = json.loads(safe_open(args.model, "pt").metadata()["ista_nas"])
    net = header["network"]
    if net["kind"] != "cifar":
        sys.exit("this check builds NetworkCIFAR; DARTS's NetworkImageNet needs Python 2's xrange")
    if net.get("extra_norms"):
        if not args.ista_nas:
            sys.exit("a one-stage network: give --ista-nas, the root of an ISTA-NAS checkout")
        sys.path.insert(0, args.ista_nas)
        from ista_nas_single.search.genotypes import Genotype
        from ista_nas_single.search.models import NetworkCIFAR
    else:
        if not args.darts:
            sys.exit("give --darts, the cnn/ folder of a DARTS checkout")
        sys.path.insert(0, args.darts)
        from genotypes import Genotype
        from model import NetworkCIFAR

    g = net["genotype"]
    genotype = Genotype(
        normal=[tuple(p) for p in g["normal"]], normal_concat=g["normal_concat"],
        reduce=[tuple(p) for p in g["reduce"]], reduce_concat=g["reduce_concat"],
    )
    model = NetworkCIFAR(net["channels"], net["classes"], net["layers"], net["auxiliary"], genotype)
    if net["in_channels"] != 3:
        model.stem[0] = nn.Conv2d(net["in_channels"], 3 * net["channels"], 3, padding=1, bias=False)
    print(model.load_state_dict(load_file(args.model), strict=True))
    model.eval()
    model.drop_path_prob = 0.0

    x = idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    y = idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    size = header["augment"]["size"]
    pad = (size - x.shape[-1]) // 2
    x = F.pad(x, (pad, size - x.shape[-1] - pad, pad, size - x.shape[-2] - pad))
    mean = torch.tensor(header["norm"]["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(header["norm"]["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        logits, _ = model((x - mean) / std)
    top1 = (logits.argmax(1) == y).float().mean().item()
    top5 = (logits.topk(5, 1).indices == y[:, None]).any(1).float().mean().item()
    loss = F.cross_entropy(logits, y).item()
    print(f"{len(y)} images: top-1 {100 * top1:.2f} %, top-5 {100 * top5:.2f} %, loss {loss:.4f}")
    if args.logits:
        with open(args.logits) as f:
            rows = list(csv.reader(f))[1:]
        expected = torch.tensor([[float(v) for v in row[3:]] for row in rows])
        n = min(len(rows), len(logits))
        scale = expected[:n].abs().max(1).values.clamp(min=1.0)
        worst = ((expected[:n] - logits[:n]).abs().max(1).values / scale).max().item()
        print(f"largest difference from eval's logits over {n} images: {worst:.2e} (relative)")
        if worst > 1e-4:
            sys.exit("PyTorch and eval disagree beyond 1e-4")


if __name__ == "__main__":
    main()
