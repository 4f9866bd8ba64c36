#!/usr/bin/env bash
# Builds everything (installing what is missing) and runs every test.
# Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh

if ctest --help | grep -q -- '--test-dir'; then
  ctest --test-dir build --output-on-failure
else
  (cd build && ctest --output-on-failure)
fi
