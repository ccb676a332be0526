// RUN: not mf-opt %s --convert-evo-to-gpu="tuning-table=%S/Inputs/bad-table.json" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not mf-opt %s --convert-evo-to-gpu="tuning-table=%S/Inputs/missing.json" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: mf-opt %s --convert-evo-to-gpu="tuning-table=%S/Inputs/big-tiles.json" | FileCheck %s

// BAD: error: tuning table {{.*}}bad-table.json: entry 1 (attention): "block_q" must be a positive multiple of 16, at most 512
// MISSING: error: tuning table {{.*}}missing.json: cannot read

// A table of one's own sets the tiles: 8 warps, 128 query rows, 4 S rows
// per block.
// CHECK: gpu.launch_func {{.*}} threads in (%c256,
// CHECK: workgroup(%{{.*}} : memref<4x128x40xbf16, {{.*}}>, %{{.*}} : memref<4x32x40xbf16, {{.*}}>, %{{.*}} : memref<4x32x40xbf16, {{.*}}>)

func.func @attention(%q: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  %o = evo.pair_bias_attention %q, %q, %q
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}
