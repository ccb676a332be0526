#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the README's
# commands need. Idempotent: apt skips what is already there.
set -euo pipefail
packages=(
  cmake ninja-build g++ git python3 bc
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools lld-22 clang-22
  libomp-22-dev libgtest-dev libclang-rt-22-dev
  # mf-cache's mmCIF input: gemmi (header-only), whose CIF grammar needs
  # PEGTL (Debian's gemmi-dev does not depend on it), and zlib for .cif.gz.
  gemmi-dev tao-pegtl-dev zlib1g-dev
  # The rocm target links the ROCm device libraries (ocml, ockl bitcode).
  rocm-device-libs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
