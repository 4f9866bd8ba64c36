#!/usr/bin/env bash
# End-to-end checks of xai-visualize and of the layer table of xai-inspect on
# the bundled MNIST CNN: one short visualization whose activation rises, and
# bad inputs with their exit codes and messages, leaving no output behind.
#
# Usage: visualize_test.sh XAI_VISUALIZE XAI_INSPECT SOURCE_DIR
set -uo pipefail

visualize=$1
inspect=$2
source_dir=$3

model=$source_dir/models/mnist_cnn.pt
source "$(dirname "$0")/check_lib.sh"

# A short visualization of one channel of the last convolution.
out=$tmp/conv2
expect "visualize conv2:3" 0 "wrote 4 files to $out" \
  "$visualize" -q --model "$model" --input-shape 1,28,28 \
  --objective conv2:3 --steps 8 --seed 0 --out "$out"
python3 - "$out" <<'PY' || fail "visualize conv2:3: bad output files"
import json, sys
out = sys.argv[1]
j = json.load(open(out + "/result.json"))
assert j["model"]["path"].endswith("mnist_cnn.pt"), j["model"]
(obj,) = j["objectives"]
assert obj["objective"] == "conv2:3", obj["objective"]
steps = [s["step"] for s in obj["snapshots"]]
assert steps[-1] == 8, steps
first = obj["snapshots"][0]["activation"][0]
last = obj["snapshots"][-1]["activation"][0]
assert last > first, (first, last)
assert obj["activation"] == [last], (obj["activation"], last)
for name in ("vis_0_0.png", "grid.png"):
    assert open(out + "/" + name, "rb").read(8) == b"\x89PNG\r\n\x1a\n", name
assert open(out + "/inputs.npy", "rb").read(6) == b"\x93NUMPY"
PY

# Bad objectives and shapes.
out=$tmp/refused
expect "unknown layer" 3 "unknown layer: conv9 (nearest: conv1, conv2" \
  "$visualize" --model "$model" --input-shape 1,28,28 --objective conv9:3 \
  --steps 2 --out "$out"
no_output "unknown layer" "$out"

expect "channel out of range" 3 \
  "invalid objective: conv2:32 (channel 32 out of range: conv2 has 32" \
  "$visualize" --model "$model" --input-shape 1,28,28 --objective conv2:32 \
  --steps 2 --out "$out"
no_output "channel out of range" "$out"

expect "module called twice" 3 \
  "ambiguous layer: pool (pool is called 2 times; name one call site: " \
  "$visualize" --model "$model" --input-shape 1,28,28 --objective pool:1 \
  --steps 2 --out "$out"
no_output "module called twice" "$out"

expect "unparseable objective" 3 \
  "invalid objective: conv2:3+ (expected <layer>:<channel>" \
  "$visualize" --model "$model" --input-shape 1,28,28 --objective conv2:3+ \
  --steps 2 --out "$out"
no_output "unparseable objective" "$out"

expect "rejected input shape" 3 \
  "invalid input shape: 3,28,28 (the model rejects it: " \
  "$visualize" --model "$model" --input-shape 3,28,28 --objective conv2:3 \
  --steps 2 --out "$out"
no_output "rejected input shape" "$out"

expect "unknown input shape" 3 \
  "invalid input shape: 1,-1,-1 (unknown for this model; give one" \
  "$visualize" --model "$model" --objective conv2:3 --steps 2 --out "$out"
no_output "unknown input shape" "$out"

# xai-inspect lists every layer, call sites included, with its shape.
expect "inspect layer shapes" 0 "layers for an input row of shape [1, 28, 28]" \
  "$inspect" --model "$model" --input-shape 1,28,28
for row in "conv2    [32, 14, 14]" "pool@0   [16, 14, 14]" \
  "pool@1   [32, 7, 7]" "output   [10]"; do
  grep -qF -- "  $row" "$tmp/stdout" ||
    fail "inspect layer shapes: no row '$row'"
done

expect "inspect without an input shape" 0 "layers: pass --input-shape" \
  "$inspect" --model "$model"

expect "inspect rejected input shape" 3 \
  "invalid input shape: 1,3,28,28 (the model rejects it: " \
  "$inspect" --model "$model" --input-shape 3,28,28
[[ -s $tmp/stdout ]] && fail "inspect rejected input shape: printed a report"

expect "inspect malformed input shape" 3 \
  "invalid --input-shape: 1,x (positive sizes joined by commas" \
  "$inspect" --model "$model" --input-shape 1,x

finish "visualize app"
