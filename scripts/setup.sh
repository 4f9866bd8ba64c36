#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and regenerating the
# bundled models need, skipping those already present. Runs as root, or
# through sudo when not root. Quick and silent when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libtorch-dev libcli11-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libstb-dev libssl-dev libcairo2-dev
  python3-torch python3-sklearn python3-numpy nodejs npm
)

# True when package $1 is installed, or provided by an installed package
# (NodeSource's nodejs package provides npm, for example).
is_installed() {
  if dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; then
    return 0
  fi
  dpkg-query -W -f='${Status}|${Provides}\n' 2>/dev/null |
    awk -F'|' -v want="$1" '
      $1 == "install ok installed" {
        n = split($2, provided, /, */)
        for (i = 1; i <= n; i++) {
          sub(/ .*/, "", provided[i])
          if (provided[i] == want) found = 1
        }
      }
      END { exit !found }'
}

if ! command -v dpkg >/dev/null 2>&1; then
  echo "setup: no dpkg here; install the equivalents of these packages" \
       "yourself: ${packages[*]}" >&2
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run this script as root or install sudo" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
