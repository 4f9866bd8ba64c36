# Shared by the app test scripts (sourced, not run): a temporary directory
# and checks of exit codes, messages and leftover output.
#
# After sourcing: $tmp is a fresh directory removed on exit; failures counts
# the failed checks; finish prints the verdict and exits with it.

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

# no_output NAME PATH: the failed run left nothing at PATH.
no_output() {
  if [[ -e $2 ]]; then
    echo "FAIL: $1 left $2 behind"
    failures=$((failures + 1))
  fi
}

# finish WHAT: prints the verdict and exits non-zero after any failure.
finish() {
  if ((failures > 0)); then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all $1 checks passed"
}
