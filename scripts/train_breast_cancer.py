#!/usr/bin/python3
"""Train the bundled breast-cancer MLP and write its data file.

Data: Wisconsin Diagnostic Breast Cancer (UCI, CC BY 4.0), read from the CSV
that scikit-learn ships (sklearn/datasets/data/breast_cancer.csv).

Outputs (relative to the repository root):
  models/data/breast_cancer.csv   30 named feature columns + `target`
                                  (0 = malignant, 1 = benign), 569 rows
  models/breast_cancer_mlp.pt     TorchScript module: raw features [N,30]
                                  float32 -> logits [N,2]
  models/data/breast_cancer_test_rows.txt
                                  0-based data-row indices (header not
                                  counted) of the held-out test split

Run from anywhere: /usr/bin/python3 scripts/train_breast_cancer.py
"""

import argparse
import csv
import os
import sys

import numpy as np
import torch
from torch import nn

import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from model_export_util import (REPO, reexec_with_fixed_hash_seed,
                               script_and_save, set_determinism)

SEED = 0
TEST_FRACTION = 0.2
EPOCHS = 20
BATCH = 32
LR = 1e-3
WEIGHT_DECAY = 1e-2
# EPOCHS and WEIGHT_DECAY were picked on an inner 80/20 validation split of
# the training rows (the test rows were not used for the choice).


class BreastCancerMLP(nn.Module):
    """standardize -> Linear(30,32) -> ReLU -> Linear(32,16) -> ReLU -> Linear(16,2)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("std", std.clone().float())
        self.fc1 = nn.Linear(30, 32)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(32, 16)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = self.relu1(self.fc1(x))
        x = self.relu2(self.fc2(x))
        return self.fc3(x)


def read_sklearn_csv():
    """Read sklearn's breast_cancer.csv, keeping the numbers as written.

    Its first line is not a header of names but "569,30,malignant,benign"
    (n_samples, n_features, class names); every following line holds the 30
    feature values and the integer target.
    """
    path = os.path.join(os.path.dirname(sklearn.__file__),
                        "datasets", "data", "breast_cancer.csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    n_samples, n_features = int(rows[0][0]), int(rows[0][1])
    body = rows[1:]
    if len(body) != n_samples or any(len(r) != n_features + 1 for r in body):
        sys.exit(f"unexpected layout in {path}")
    return path, body


def write_csv(out_path, feature_names, body):
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(feature_names) + ["target"])
        w.writerows(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(REPO, "models"))
    args = ap.parse_args()
    reexec_with_fixed_hash_seed()
    set_determinism(SEED)

    src_path, body = read_sklearn_csv()
    bunch = load_breast_cancer()
    feature_names = [str(n) for n in bunch.feature_names]
    X = np.array([[float(v) for v in r[:-1]] for r in body], dtype=np.float64)
    y = np.array([int(r[-1]) for r in body], dtype=np.int64)
    # The CSV must hold exactly what sklearn's loader returns.
    assert X.shape == (569, 30) and np.array_equal(X, bunch.data)
    assert np.array_equal(y, bunch.target)
    assert list(bunch.target_names) == ["malignant", "benign"]

    csv_path = os.path.join(args.out_dir, "data", "breast_cancer.csv")
    write_csv(csv_path, feature_names, body)
    print(f"source: {src_path}")
    print(f"wrote {csv_path} ({len(body)} rows, {len(feature_names)} features + target)")

    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(
        idx, test_size=TEST_FRACTION, stratify=y, random_state=SEED)
    train_idx = np.sort(train_idx)
    test_idx = np.sort(test_idx)
    rows_path = os.path.join(args.out_dir, "data", "breast_cancer_test_rows.txt")
    with open(rows_path, "w") as f:
        f.write("".join(f"{i}\n" for i in test_idx))
    print(f"wrote {rows_path} ({len(test_idx)} 0-based data-row indices of the test split)")

    X32 = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(y)
    Xtr, ytr = X32[train_idx], yt[train_idx]
    Xte, yte = X32[test_idx], yt[test_idx]

    # Standardization statistics from the training split only (population std).
    mean = torch.from_numpy(X[train_idx].mean(axis=0).astype(np.float32))
    std = torch.from_numpy(X[train_idx].std(axis=0).astype(np.float32))

    model = BreastCancerMLP(mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    n = Xtr.shape[0]
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, BATCH):
            b = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[b]), ytr[b])
            loss.backward()
            opt.step()

    model.eval()
    with torch.no_grad():
        train_acc = (model(Xtr).argmax(1) == ytr).float().mean().item()
        test_acc = (model(Xte).argmax(1) == yte).float().mean().item()

    pt_path = os.path.join(args.out_dir, "breast_cancer_mlp.pt")
    script_and_save(model, pt_path)

    # Check the saved file: reload and re-evaluate on the test split.
    loaded = torch.jit.load(pt_path)
    loaded.eval()
    with torch.no_grad():
        out = loaded(Xte)
        reload_acc = (out.argmax(1) == yte).float().mean().item()
    assert out.shape == (Xte.shape[0], 2)
    assert reload_acc == test_acc, (reload_acc, test_acc)

    print(f"split: {len(train_idx)} train / {len(test_idx)} test "
          f"(stratified, random_state={SEED})")
    print(f"train accuracy: {train_acc:.4f}")
    print(f"test accuracy: {test_acc:.4f} "
          f"({int(round(test_acc * len(test_idx)))}/{len(test_idx)})")
    print(f"wrote {pt_path} ({os.path.getsize(pt_path)} bytes)")


if __name__ == "__main__":
    main()
