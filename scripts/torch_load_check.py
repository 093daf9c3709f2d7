#!/usr/bin/env python3
"""Loads an `ista-nas export MODEL --torch OUT` file into DARTS's own NetworkCIFAR with
load_state_dict(strict=True) and scores it on IDX test images, to compare with
`ista-nas eval --model MODEL` (loss, top-1 and top-5 should agree).

usage: python scripts/torch_load_check.py --darts ~/darts/cnn OUT.safetensors [--data DIR]

Needs torch, torchvision (DARTS's utils.py imports it) and safetensors; --darts is the cnn/
folder of a quark0/darts checkout. For 1-channel data the stem's first convolution is built
with 1 input channel, the one edit DARTS's network needs. --data holds t10k-images-idx3-ubyte.gz
and t10k-labels-idx1-ubyte.gz (default: the Fashion-MNIST subset embedded in ista-nas).
"""
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
    parser.add_argument("--darts", required=True, help="the cnn/ folder of a DARTS checkout")
    parser.add_argument("--data", default=os.path.join(here, "..", "datasets", "fashion-mnist-subset"))
    parser.add_argument("model", help="a file written by `ista-nas export --torch`")
    args = parser.parse_args()
    sys.path.insert(0, args.darts)
    from genotypes import Genotype
    from model import NetworkCIFAR

    header = json.loads(safe_open(args.model, "pt").metadata()["ista_nas"])
    net = header["network"]
    if net["kind"] != "cifar":
        sys.exit("this check builds NetworkCIFAR; DARTS's NetworkImageNet needs Python 2's xrange")
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


if __name__ == "__main__":
    main()
