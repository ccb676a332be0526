#!/usr/bin/env bash
# The main job: installs what it needs, builds, compiles the Pairformer block
# example for the CPU and runs it on random inputs through the runtime,
# printing the time per entry. Usage: run-main.sh [N (default 64)]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-64}
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
build=${MF_BUILD_DIR:-$root/build}
mkdir -p "$build/examples"
artifact="$build/examples/pairformer_block.mfa"
start=$(date +%s.%N)
"$build/bin/mf-compile" "$root/examples/pairformer_block.mlir" --target=cpu -o "$artifact"
end=$(date +%s.%N)
printf 'compiled %s in %.2f s\n' "$artifact" "$(echo "$end - $start" | bc)"
"$build/bin/mf-run" "$artifact" --size "$n" --iters 3 --warmup 1
