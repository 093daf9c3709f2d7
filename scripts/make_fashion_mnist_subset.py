#!/usr/bin/env python3
"""Cut the embedded Fashion-MNIST subset from the Debian package `dataset-fashion-mnist`.

Keeps the first TRAIN training and TEST test images (and labels), as gzipped IDX files in
datasets/fashion-mnist-subset/, the same format as the full data set.
"""
import gzip
import pathlib
import struct

SOURCE = pathlib.Path("/usr/share/datasets/fashion-mnist")
TARGET = pathlib.Path(__file__).resolve().parent.parent / "datasets" / "fashion-mnist-subset"
TRAIN, TEST = 6000, 1000


def cut(name: str, keep: int) -> None:
    data = gzip.open(SOURCE / name).read()
    magic, count = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * (dims - 1), data[8 : 4 + 4 * dims])
    item = 1
    for d in shape:
        item *= d
    header = struct.pack(">II", magic, keep) + data[8 : 4 + 4 * dims]
    body = data[4 + 4 * dims : 4 + 4 * dims + keep * item]
    assert count >= keep and len(body) == keep * item
    with gzip.GzipFile(TARGET / name, "wb", compresslevel=9, mtime=0) as out:
        out.write(header + body)


TARGET.mkdir(parents=True, exist_ok=True)
for prefix, keep in (("train", TRAIN), ("t10k", TEST)):
    cut(f"{prefix}-images-idx3-ubyte.gz", keep)
    cut(f"{prefix}-labels-idx1-ubyte.gz", keep)
