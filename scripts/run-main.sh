#!/usr/bin/env bash
# The main job: installs what it needs, builds, and runs every example
# through mf-opt (parse, verify, print).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
build=${MF_BUILD_DIR:-$root/build}
for f in "$root"/examples/*.mlir; do
  echo "== $(basename "$f")"
  "$build/bin/mf-opt" "$f" | grep -E "evo\.|func.func" | sed 's/ : .*//' 
done
