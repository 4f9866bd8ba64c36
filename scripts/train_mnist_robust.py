#!/usr/bin/python3
"""Train the bundled adversarially robust MNIST CNN.

Same architecture, data and split as scripts/train_mnist.py (9,000 training
digits; the 1,000 held-out digits of models/data/ are never trained on), but
every training batch is replaced by FGSM examples from a random start inside
the L-infinity ball ("fast" adversarial training): x' = clip(x + d +
alpha * sign(grad), x - eps, x + eps) with d uniform in [-eps, eps], then
clipped to [0, 1]. eps grows linearly from 0 to EPS over the first
RAMP_EPOCHS epochs, which keeps the single-step training from collapsing.

After training, the script measures clean accuracy and PGD accuracy (40
steps of 0.01 from a random start, one restart) at eps 0.1 and 0.3 on the
held-out digits, for this model and for models/mnist_cnn.pt, and prints them.

Output: models/mnist_cnn_robust.pt, TorchScript: [N,1,28,28] float32 in
[0,1] -> logits [N,10].

Run: scripts/fetch_mnist.sh && /usr/bin/python3 scripts/train_mnist_robust.py
"""

import argparse
import os
import time

import numpy as np
import torch
from torch import nn
from sklearn.model_selection import train_test_split

from model_export_util import (REPO, reexec_with_fixed_hash_seed,
                               script_and_save, set_determinism)
from train_mnist import MnistCNN, accuracy, load_dump

SEED = 0
N_TEST = 1000
EPOCHS = 12
RAMP_EPOCHS = 4
BATCH = 64
LR = 1e-3
EPS = 0.3
ALPHA = 1.25  # step of the FGSM training attack, in units of eps


def pgd(model, x, y, eps, steps=40, step=0.01, seed=0):
    """Untargeted L-infinity PGD on cross-entropy from a random start."""
    gen = torch.Generator().manual_seed(seed)
    delta = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    adv = (x + delta).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = nn.functional.cross_entropy(model(adv), y)
        (grad,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            adv = adv + step * grad.sign()
            adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def pgd_accuracy(model, x, y, eps, batch=500):
    correct = 0
    for i in range(0, x.shape[0], batch):
        adv = pgd(model, x[i:i + batch], y[i:i + batch], eps, seed=i)
        with torch.no_grad():
            correct += (model(adv).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump-dir", default=os.environ.get(
        "MNIST_DUMP_DIR", os.path.join(REPO, "build", "mnist")))
    ap.add_argument("--out-dir", default=os.path.join(REPO, "models"))
    args = ap.parse_args()
    reexec_with_fixed_hash_seed()
    set_determinism(SEED)

    images, labels, _ = load_dump(args.dump_dir)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(
        idx, test_size=N_TEST, stratify=labels, random_state=SEED)
    Xtr = torch.from_numpy(np.ascontiguousarray(images[train_idx]))
    ytr = torch.from_numpy(labels[train_idx])
    Xte = torch.from_numpy(np.ascontiguousarray(images[test_idx]))
    yte = torch.from_numpy(labels[test_idx])

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
        for step, i in enumerate(range(0, n, BATCH)):
            progress = (epoch + step * BATCH / n) / RAMP_EPOCHS
            eps = EPS * min(1.0, progress)
            b = perm[i:i + BATCH]
            x, y = Xtr[b], ytr[b]
            delta = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
            delta.requires_grad_(True)
            loss = loss_fn(model((x + delta).clamp(0, 1)), y)
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta = (delta + ALPHA * eps * grad.sign()).clamp(-eps, eps)
                adv = (x + delta).clamp(0, 1)
            opt.zero_grad()
            loss = loss_fn(model(adv), y)
            loss.backward()
            opt.step()
            total += loss.item() * b.numel()
        print(f"epoch {epoch + 1}/{EPOCHS}: eps {eps:.3f}, adversarial train "
              f"loss {total / n:.4f} ({time.time() - t0:.0f}s)", flush=True)

    model.eval()
    pt_path = os.path.join(args.out_dir, "mnist_cnn_robust.pt")
    script_and_save(model, pt_path)
    loaded = torch.jit.load(pt_path)
    loaded.eval()
    standard = torch.jit.load(os.path.join(args.out_dir, "mnist_cnn.pt"))
    standard.eval()

    for name, m in (("mnist_cnn_robust.pt", loaded), ("mnist_cnn.pt", standard)):
        clean, _ = accuracy(m, Xte, yte)
        line = f"{name}: clean {clean:.4f}"
        for eps in (0.1, 0.3):
            line += f", PGD-40 eps {eps}: {pgd_accuracy(m, Xte, yte, eps):.4f}"
        print(line, flush=True)
    print(f"wrote {pt_path} ({os.path.getsize(pt_path)} bytes)")


if __name__ == "__main__":
    main()
