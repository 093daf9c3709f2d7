#!/usr/bin/env python3
"""Checks an `ista-nas export MODEL --onnx OUT` file with the ONNX tools people deploy with:
onnx's checker (with shape inference), then onnxruntime on IDX test images, printing the same
top-1 / top-5 / loss as `ista-nas eval --model MODEL`; with --logits (a CSV from
`ista-nas eval --model MODEL --logits CSV`), compares onnxruntime's logits with eval's, image by
image, and fails above 1e-4 relative (to the row's largest logit).

usage: python scripts/onnx_check.py OUT.onnx [--logits eval.csv] [--data DIR] [--images N]

Needs onnx and onnxruntime (pip install onnx onnxruntime). --data holds t10k-images-idx3-ubyte.gz
and t10k-labels-idx1-ubyte.gz (default: the Fashion-MNIST subset embedded in ista-nas). Images
are prepared as eval prepares them for CIFAR-protocol models (centred on a zero canvas of the
model's input size, then normalised with the model's mean and std); the ImageNet protocol's
resize and crop are checked by tests/onnx_export.rs instead.
"""
import argparse
import csv
import gzip
import json
import os
import struct
import sys

import numpy as np
import onnx
import onnxruntime


def idx(path):
    data = gzip.open(path).read()
    count = struct.unpack(">I", data[4:8])[0]
    if data[3] == 3:
        rows, cols = struct.unpack(">II", data[8:16])
        pixels = np.frombuffer(data, dtype=np.uint8, offset=16).astype(np.float32)
        return pixels.reshape(count, 1, rows, cols) / 255
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


def prepare(x, header):
    augment, norm = header["augment"], header["norm"]
    if augment.get("resize") or augment.get("random_resized_crop"):
        sys.exit("this model evaluates with a resize and crop (ImageNet protocol); see tests/onnx_export.rs")
    size = augment["size"]
    top, left = (size - x.shape[2]) // 2, (size - x.shape[3]) // 2
    canvas = np.zeros((x.shape[0], x.shape[1], size, size), dtype=np.float32)
    canvas[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x
    mean = np.array(norm["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.array(norm["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    return (canvas - mean) / std


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a file written by `ista-nas export --onnx`")
    parser.add_argument("--logits", help="a CSV written by `ista-nas eval --logits`")
    parser.add_argument("--data", default=os.path.join(here, "..", "datasets", "fashion-mnist-subset"))
    parser.add_argument("--images", type=int, help="only the first N test images")
    args = parser.parse_args()

    model = onnx.load(args.model)
    onnx.checker.check_model(model, full_check=True)
    header = json.loads({p.key: p.value for p in model.metadata_props}["ista_nas"])
    print(f"{args.model}: valid ONNX (opset {model.opset_import[0].version}), onnxruntime {onnxruntime.__version__}")

    x = idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))[: args.images]
    y = idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))[: args.images]
    x = prepare(x, header)
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    fixed = session.get_inputs()[0].shape[0]
    batch = fixed if isinstance(fixed, int) else 100
    outputs = []
    for start in range(0, len(x), batch):
        part = x[start:start + batch]
        if len(part) < batch and isinstance(fixed, int):
            part = np.concatenate([part, np.zeros((batch - len(part),) + part.shape[1:], np.float32)])
        outputs.append(session.run(["logits"], {"images": part})[0][: len(x) - start])
    logits = np.concatenate(outputs)

    shifted = logits - logits.max(1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = -log_softmax[np.arange(len(y)), y].mean()
    own = logits[np.arange(len(y)), y][:, None]
    higher = (logits > own).sum(1)
    top1, top5 = (higher < 1).mean(), (higher < 5).mean()
    print(f"{len(y)} images: top-1 {100 * top1:.2f} %, top-5 {100 * top5:.2f} %, loss {loss:.4f}")

    if args.logits:
        with open(args.logits) as f:
            rows = list(csv.reader(f))[1:]
        worst = 0.0
        for row in rows:
            i, label = int(row[0]), int(row[1])
            if i >= len(logits):
                break
            if label != y[i]:
                sys.exit(f"image {i}: eval's label {label}, the data's {y[i]}: not the same images")
            expected = np.array([float(v) for v in row[3:]], dtype=np.float32)
            scale = max(1.0, float(np.abs(expected).max()))
            worst = max(worst, float(np.abs(expected - logits[i]).max()) / scale)
        print(f"largest difference from eval's logits over {min(len(rows), len(logits))} images: {worst:.2e} (relative)")
        if worst > 1e-4:
            sys.exit("onnxruntime and eval disagree beyond 1e-4")


if __name__ == "__main__":
    main()
