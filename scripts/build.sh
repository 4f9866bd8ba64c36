#!/usr/bin/env bash
# Installs what is missing, configures build/ (Release) unless it already is,
# and builds the library, the apps, the tests and, when its source is
# present, the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

bench=OFF
if [[ -f bench/bench_attribution.cpp ]]; then
  bench=ON
fi
flags=(-DXAI_BUILD_APPS=ON -DXAI_BUILD_TESTS=ON "-DXAI_BUILD_BENCH=$bench")

# An existing build/ keeps its build type; it is reconfigured only when one
# of the flags above differs from its cache.
cache=build/CMakeCache.txt
if [[ ! -f $cache ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${flags[@]}"
else
  for flag in "${flags[@]}"; do
    entry=${flag#-D}
    if ! grep -qx "${entry%%=*}:BOOL=${entry#*=}" "$cache"; then
      cmake -S . -B build "${flags[@]}"
      break
    fi
  done
fi

cmake --build build -j "$(nproc)"
