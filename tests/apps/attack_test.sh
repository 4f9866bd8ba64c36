#!/usr/bin/env bash
# End-to-end checks of xai-attack: a small PGD run on the bundled MNIST CNN
# and on the tabular model, and bad inputs with their documented exit codes
# and messages, leaving no output behind.
#
# Usage: attack_test.sh XAI_ATTACK SOURCE_DIR
set -uo pipefail

attack=$1
source_dir=$2

cnn=$source_dir/models/mnist_cnn.pt
images=$source_dir/models/data/mnist_test_images.npy
labels=$source_dir/models/data/mnist_test_labels.npy
mlp=$source_dir/models/breast_cancer_mlp.pt
csv=$source_dir/models/data/breast_cancer.csv
source "$(dirname "$0")/check_lib.sh"

out=$tmp/pgd
expect "pgd on 20 digits at two eps" 0 "robust accuracy" \
  "$attack" -q --model "$cnn" --input "$images" --labels "$labels" \
  --rows 0:20 --attack pgd --steps 10 --eps 0.1,0.3 --out "$out"
for f in report.json adversarial_eps0.1.npy adversarial_eps0.3.npy \
  accuracy_vs_eps.png sample_0_eps0.3.png; do
  [[ -s $out/$f ]] || fail "pgd on 20 digits: no $f"
done
python3 - "$out" <<'PY' || fail "pgd on 20 digits: bad report"
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
assert r["rows"] == 20 and r["attack"] == "pgd", r["rows"]
a, b = r["runs"]
assert a["eps"] == 0.1 and b["eps"] == 0.3
assert b["robust_accuracy"] <= a["robust_accuracy"] <= r["clean_accuracy"]
assert r["worst_case_accuracy"] == b["robust_accuracy"]
assert len(b["samples"]) == 20
assert all(s["linf"] <= 0.3 + 1e-6 for s in b["samples"])
PY

expect "apgd-ce on tabular rows" 0 "clean accuracy" \
  "$attack" -q --model "$mlp" --input "$csv" --label-column target \
  --rows 0:10 --attack apgd-ce --steps 5 --eps 50 --out "$tmp/tabular"
python3 - "$tmp/tabular" <<'PY' || fail "apgd-ce on tabular rows: bad bounds"
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
lo, hi = r["bounds"]["lo"], r["bounds"]["hi"]
assert len(lo) == 30 and all(l < h for l, h in zip(lo, hi)), lo
PY

out=$tmp/refused
expect "negative eps" 3 "invalid --eps: -0.1 (must be >= 0 and finite)" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" \
  --attack fgsm --eps -0.1 --out "$out"
no_output "negative eps" "$out"

expect "bounds lo > hi" 3 "invalid --bounds: lo 1 > hi 0" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" \
  --attack fgsm --eps 0.1 --bounds 1,0 --out "$out"
no_output "bounds lo > hi" "$out"

printf '0\n1\n12\n' >"$tmp/bad_labels.csv"
expect "label out of range" 3 \
  "invalid label 12 in row 2 (the model has 10 outputs: labels 0..9)" \
  "$attack" --model "$cnn" --input "$images" --labels "$tmp/bad_labels.csv" \
  --rows 0:3 --attack fgsm --eps 0.1 --out "$out"
no_output "label out of range" "$out"

expect "label count" 3 \
  "cannot attack input: 3 labels for 1000 rows of $images and 5 selected rows" \
  "$attack" --model "$cnn" --input "$images" --labels "$tmp/bad_labels.csv" \
  --rows 0:5 --attack fgsm --eps 0.1 --out "$out"
no_output "label count" "$out"

expect "input outside the bounds" 3 \
  "cannot attack input: row 0 lies outside the bounds" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" \
  --rows 0:5 --attack fgsm --eps 0.1 --bounds 0,0.5 --out "$out"
no_output "input outside the bounds" "$out"

expect "no labels" 2 "exactly one of --labels FILE and --label-column NAME" \
  "$attack" --model "$cnn" --input "$images" --attack fgsm --eps 0.1 \
  --out "$out"

expect "unknown attack" 2 "--attack: square not in" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" \
  --attack square --eps 0.1 --out "$out"

expect "deepfool targeted" 3 "deepfool is untargeted" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" --rows 0:5 \
  --attack deepfool --targeted 3 --eps 0.1 --out "$out"
no_output "deepfool targeted" "$out"

expect "eps listed twice" 2 "--eps lists 0.1 twice" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" \
  --attack fgsm --eps 0.1,0.1 --out "$out"

expect "labels for other rows" 3 \
  "cannot attack input: 3 labels for 1000 rows of $images and 4 selected rows" \
  "$attack" --model "$cnn" --input "$images" --labels "$tmp/bad_labels.csv" \
  --rows 5:9 --attack fgsm --eps 0.1 --out "$out"
no_output "labels for other rows" "$out"

expect "NaN mean" 3 "invalid mean: nan (must be finite)" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" --rows 0:3 \
  --attack fgsm --eps 0.1 --mean nan --std 1 --out "$out"
no_output "NaN mean" "$out"

mkdir -p "$tmp/blocked/report.json"
expect "report path is a directory" 4 \
  "cannot write $tmp/blocked/report.json: it is a directory" \
  "$attack" --model "$cnn" --input "$images" --labels "$labels" --rows 0:3 \
  --attack fgsm --eps 0.1 --out "$tmp/blocked"
no_output "report path is a directory" "$tmp/blocked/adversarial.npy"

finish "attack app"
