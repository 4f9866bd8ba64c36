#!/usr/bin/env bash
# End-to-end checks of the apps: one small explanation of the bundled
# breast-cancer model, and bad inputs with their documented exit codes and
# messages, leaving no output behind.
#
# Usage: apps_test.sh XAI_ATTRIBUTE XAI_INSPECT XAI_PLOT SOURCE_DIR
set -uo pipefail

attribute=$1
inspect=$2
plot=$3
source_dir=$4

model=$source_dir/models/breast_cancer_mlp.pt
csv=$source_dir/models/data/breast_cancer.csv
source "$(dirname "$0")/check_lib.sh"

# A small DeepSHAP explanation, then its files.
out=$tmp/deepshap
expect "deepshap on 20 rows" 0 "top 10 features" \
  "$attribute" -q --model "$model" --input "$csv" --label-column target \
  --method deepshap --background-rows 10 --seed 0 --rows 0:20 --out "$out"
grep -qF "completeness gap |sum(values)" "$tmp/stdout" ||
  fail "deepshap on 20 rows: no completeness gap in the summary"
python3 - "$out" <<'PY' || fail "deepshap on 20 rows: bad output files"
import ast, json, sys
out = sys.argv[1]
j = json.load(open(out + "/explanation.json"))
assert j["method"] == "deepshap", j["method"]
assert j["shape"] == [20, 30], j["shape"]
assert len(j["feature_names"]) == 30 and "target" not in j["feature_names"]
assert len(j["values"]) == 20 and len(j["data"]) == 20
assert j["options"]["background_rows"] == 10
raw = open(out + "/values.npy", "rb").read()
assert raw[:6] == b"\x93NUMPY", raw[:6]
size = int.from_bytes(raw[8:10], "little")
header = ast.literal_eval(raw[10:10 + size].decode("latin1"))
assert header["shape"] == (20, 30), header
PY

# A method without completeness writes null base values and says so.
expect "saliency on 5 rows" 0 "no completeness property" \
  "$attribute" -q --model "$model" --input "$csv" --label-column target \
  --method saliency --rows 0:5 --target all --out "$tmp/saliency"

expect "inspect" 0 "0 unsupported" "$inspect" --model "$model"

# KernelSHAP with plots: complete, PNG files beside the explanation.
out=$tmp/kernelshap
expect "kernelshap with plots" 0 "wrote $out/waterfall.png" \
  "$attribute" -q --model "$model" --input "$csv" --label-column target \
  --method kernelshap --background-rows 10 --rows 0:4 \
  --plot beeswarm,waterfall --out "$out"
python3 - "$out" <<'PY' || fail "kernelshap with plots: bad output files"
import json, sys
out = sys.argv[1]
j = json.load(open(out + "/explanation.json"))
assert j["method"] == "kernelshap" and j["shape"] == [4, 30], j["shape"]
assert j["max_abs_completeness_gap"] < 1e-5, j["max_abs_completeness_gap"]
assert j["standard_errors"] is None
for name in ("beeswarm", "waterfall"):
    assert open(out + "/" + name + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
PY

# Exact Shapley over the ten measurements, each a group of three columns
# (its mean, its standard error and its worst value).
groups=""
for m in radius texture perimeter area smoothness compactness concavity \
  "concave points" symmetry "fractal dimension"; do
  groups+="$m=mean $m,$m error,worst $m;"
done
out=$tmp/shapley
expect "shapley over ten groups" 0 "ExactShapley(background=10, players=10" \
  "$attribute" -q --model "$model" --input "$csv" --label-column target \
  --method shapley --background-rows 10 --rows 0:3 --groups "$groups" \
  --out "$out"
python3 - "$out" <<'PY' || fail "shapley over ten groups: bad values"
import json, sys
j = json.load(open(sys.argv[1] + "/explanation.json"))
assert j["max_abs_completeness_gap"] < 1e-5, j["max_abs_completeness_gap"]
names = j["feature_names"]
for row in j["values"]:
    # The three columns of a group share its value equally.
    for m in ("radius", "concave points"):
        a, b, c = (row[names.index(n)] for n in
                   ("mean " + m, m + " error", "worst " + m))
        assert abs(a - b) < 1e-7 and abs(a - c) < 1e-7, (m, a, b, c)
PY

# Permutation sampling reports standard errors.
out=$tmp/permutation
expect "permutation" 0 "standard error of the values" \
  "$attribute" -q --model "$model" --input "$csv" --label-column target \
  --method permutation --samples 4 --background-rows 5 --rows 0:2 \
  --out "$out"
python3 - "$out" <<'PY' || fail "permutation: no standard errors"
import json, sys
j = json.load(open(sys.argv[1] + "/explanation.json"))
se = j["standard_errors"]
assert len(se) == 2 and len(se[0]) == 30 and max(se[0]) > 0, se
PY

# xai-plot draws an explanation as SVG with the feature names as text.
expect "xai-plot beeswarm svg" 0 "wrote $tmp/beeswarm.svg" \
  "$plot" "$tmp/kernelshap/explanation.json" --kind beeswarm \
  --out "$tmp/beeswarm.svg"
grep -qF ">worst concave points<" "$tmp/beeswarm.svg" ||
  fail "xai-plot beeswarm svg: no feature name as text"
expect "xai-plot unknown kind" 2 "--kind: violin not in" \
  "$plot" "$tmp/kernelshap/explanation.json" --kind violin \
  --out "$tmp/violin.png"
expect "xai-plot missing explanation" 4 "$tmp/none.json" \
  "$plot" "$tmp/none.json" --kind bar --out "$tmp/bar.png"
expect "xai-plot jpg" 3 "unsupported format (use .png or .svg)" \
  "$plot" "$tmp/kernelshap/explanation.json" --kind bar --out "$tmp/bar.jpg"
no_output "xai-plot jpg" "$tmp/bar.jpg"

# Bad inputs.
out=$tmp/refused
expect "missing model" 4 "cannot load model $tmp/none.pt: no such file" \
  "$attribute" --model "$tmp/none.pt" --input "$csv" --label-column target \
  --method saliency --out "$out"
no_output "missing model" "$out"

expect "state dict instead of TorchScript" 5 "is not a TorchScript archive" \
  "$attribute" --model "$source_dir/tests/data/state_dict.pt" \
  --input "$csv" --label-column target --method saliency --out "$out"
no_output "state dict" "$out"

printf 'a,b,target\n1,2,0\n3,x,1\n' >"$tmp/bad.csv"
expect "non-numeric CSV cell" 3 \
  "cannot load $tmp/bad.csv: row 2, column 'b': 'x' is not a number" \
  "$attribute" --model "$model" --input "$tmp/bad.csv" \
  --label-column target --method saliency --out "$out"
no_output "non-numeric CSV cell" "$out"

# An unknown method is a bad command line: exit 2.
expect "unknown method" 2 "--method: lime not in" \
  "$attribute" --model "$model" --input "$csv" --method lime --out "$out"
no_output "unknown method" "$out"

expect "max-batch 0" 3 "invalid --max-batch: 0 (must be >= 1)" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method saliency --max-batch 0 --out "$out"
no_output "max-batch 0" "$out"

expect "too many background rows" 3 \
  "cannot sample 600 background rows from $csv: it has 569 rows" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method deepshap --background-rows 600 --out "$out"
no_output "too many background rows" "$out"

expect "deepshap without background" 2 \
  "--method deepshap needs --background FILE or --background-rows N" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method deepshap --out "$out"

# Bad players and backgrounds for the model-agnostic methods.
expect "too many players for exact Shapley" 3 \
  "cannot run exact Shapley on 30 players: more than max_players 20" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method shapley --background-rows 5 --out "$out"
no_output "too many players" "$out"

# A mask of five players for rows of thirty features (.npy written by hand).
python3 - "$tmp/mask5.npy" <<'PY'
import struct, sys
header = "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
    f.write(header.encode("latin1") + struct.pack("<5q", 0, 1, 2, 3, 4))
PY
expect "mask of the wrong shape" 3 \
  "invalid players: mask shape [5] (must be the input row shape [30]" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method kernelshap --background-rows 5 --mask "$tmp/mask5.npy" \
  --out "$out"
no_output "mask of the wrong shape" "$out"

head -1 "$csv" >"$tmp/header_only.csv"
expect "empty background" 3 \
  "cannot load $tmp/header_only.csv: no data rows after the header" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method kernelshap --background "$tmp/header_only.csv" --out "$out"
no_output "empty background" "$out"

expect "unknown column in --groups" 3 \
  "invalid --groups: no column 'nope' (give a column name or an index 0..29)" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method kernelshap --background-rows 5 --groups "a=nope" --out "$out"

expect "--groups with a gradient method" 2 \
  "--groups does not apply to --method ig" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method ig --groups "a=1" --out "$out"

# A TorchScript archive whose code does not compile (regression: exit 1).
python3 - "$model" "$tmp/badcode.pt" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, \
        zipfile.ZipFile(sys.argv[2], "w") as dst:
    for item in src.infolist():
        data = src.read(item.filename)
        if item.filename.endswith(".py") and "/code/" in item.filename:
            data = b"def forward(self, x):\n  return x +++\n"
        dst.writestr(item, data)
PY
expect "model code that does not compile" 5 \
  "its TorchScript code does not compile" \
  "$attribute" --model "$tmp/badcode.pt" --input "$csv" --label-column target \
  --method saliency --out "$out"
no_output "model code that does not compile" "$out"

expect "steps beyond the limit" 3 "invalid --steps: 2000000000 (at most 1000000)" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method ig --steps 2000000000 --out "$out"

expect "waterfall without base values" 2 \
  "--plot waterfall needs base values, which --method saliency does not have" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method saliency --plot waterfall --out "$out"
no_output "waterfall without base values" "$out"

# An output file that is a directory: refused before anything is written.
mkdir -p "$tmp/blocked/explanation.json"
expect "output file is a directory" 4 \
  "cannot write $tmp/blocked/explanation.json: it is a directory" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method saliency --rows 0:3 --out "$tmp/blocked"
no_output "output file is a directory" "$tmp/blocked/values.npy"

# A path below a regular file cannot be created, even by root.
touch "$tmp/file"
expect "unwritable --out" 4 \
  "cannot create directory $tmp/file/out: $tmp/file is not a directory" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method saliency --out "$tmp/file/out"
no_output "unwritable --out" "$tmp/file/out"

finish "app"
