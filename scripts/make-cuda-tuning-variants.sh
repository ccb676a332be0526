#!/usr/bin/env bash
#===- make-cuda-tuning-variants.sh - Artifacts for a tile-size sweep -------===#
#
# Usage: scripts/make-cuda-tuning-variants.sh [CHIP]   (default sm_90a)
#
# Compiles test/Integration/cuda/Inputs/ops_bf16.mlir once per candidate
# tuning table into artifacts/cuda/tune/<variant>.mfa (tables beside them).
# scripts/device/cuda-tune.sh times every variant on the GPU machine and
# prints the best per case; copy the winners into
# lib/Conversion/EvoToGPU/TuningTable.json.
#
#===------------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
chip=${1:-sm_90a}
out=artifacts/cuda/tune
rm -rf "$out" && mkdir -p "$out"
# variant: attention (block_q block_k s_group) for D=32 and D=8,
# layernorm_linear (block_m block_n), transition (block_m block_n).
variants=(
  "default                    -"
  "a64x32s2-g128x64-t64x16    64 32 2  128 64  64 16"
  "a64x16s1-g128x64-t64x16    64 16 1  128 64  64 16"
  "a128x32s1-g64x64-t64x32    128 32 1 64 64   64 32"
  "a32x32s1-g128x32-t128x16   32 32 1  128 32  128 16"
)
for v in "${variants[@]}"; do
  read -r name bq bk sg gm gn tm tn <<<"$v"
  if [ "$bq" = - ]; then  # the built-in table
    build/bin/mf-compile test/Integration/cuda/Inputs/ops_bf16.mlir \
      --target=cuda --chip="$chip" -o "$out/$name.mfa"
    echo "$out/$name.mfa"
    continue
  fi
  cat > "$out/$name.json" <<JSON
{"version": 1, "entries": [
  {"kernel": "attention", "chip": "*", "head_dim": 32, "block_q": $bq, "block_k": $bk, "s_group": $sg},
  {"kernel": "attention", "chip": "*", "head_dim": 8, "block_q": $bq, "block_k": $bk, "s_group": $sg},
  {"kernel": "attention", "chip": "*", "block_q": 64, "block_k": 32, "s_group": 1},
  {"kernel": "layernorm_linear", "chip": "*", "max_out": 16, "block_m": $gm, "block_n": 16},
  {"kernel": "layernorm_linear", "chip": "*", "block_m": $gm, "block_n": $gn},
  {"kernel": "transition", "chip": "*", "block_m": $tm, "block_n": $tn}
]}
JSON
  build/bin/mf-compile test/Integration/cuda/Inputs/ops_bf16.mlir --target=cuda \
    --chip="$chip" --tuning-table="$out/$name.json" -o "$out/$name.mfa"
  echo "$out/$name.mfa"
done
