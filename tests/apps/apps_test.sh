#!/usr/bin/env bash
# End-to-end checks of the apps: one small explanation of the bundled
# breast-cancer model, and bad inputs with their documented exit codes and
# messages, leaving no output behind.
#
# Usage: apps_test.sh XAI_ATTRIBUTE XAI_INSPECT SOURCE_DIR
set -uo pipefail

attribute=$1
inspect=$2
source_dir=$3

model=$source_dir/models/breast_cancer_mlp.pt
csv=$source_dir/models/data/breast_cancer.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $1"
  sed 's/^/  stdout: /' "$tmp/stdout"
  sed 's/^/  stderr: /' "$tmp/stderr"
  failures=$((failures + 1))
}

# expect NAME CODE TEXT COMMAND...: runs COMMAND and checks its exit code
# and that TEXT occurs in its stderr (or stdout when CODE is 0).
expect() {
  local name=$1 want=$2 text=$3
  shift 3
  local rc=0
  "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  local where=$tmp/stderr
  [[ $want == 0 ]] && where=$tmp/stdout
  if [[ $rc != "$want" ]]; then
    fail "$name: exit code $rc, expected $want"
  elif ! grep -qF -- "$text" "$where"; then
    fail "$name: output lacks '$text'"
  else
    echo "ok: $name"
  fi
}

# no_output NAME DIR: the failed run left nothing at DIR.
no_output() {
  if [[ -e $2 ]]; then
    echo "FAIL: $1 left $2 behind"
    failures=$((failures + 1))
  fi
}

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
expect "unknown method" 2 "--method: shapley not in" \
  "$attribute" --model "$model" --input "$csv" --method shapley --out "$out"
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

# A path below a regular file cannot be created, even by root.
touch "$tmp/file"
expect "unwritable --out" 4 \
  "cannot create directory $tmp/file/out: $tmp/file is not a directory" \
  "$attribute" --model "$model" --input "$csv" --label-column target \
  --method saliency --out "$tmp/file/out"
no_output "unwritable --out" "$tmp/file/out"

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all app checks passed"
