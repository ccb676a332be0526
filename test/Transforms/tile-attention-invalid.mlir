// Block sizes must be positive: the pass fails with a diagnostic that names
// the values it got, and never crashes (`not` fails on a crash).
// RUN: not mf-opt %s -evo-tile-attention="block-q=0 block-k=32" 2>&1 | FileCheck %s --check-prefix=ZERO-Q
// RUN: not mf-opt %s -evo-tile-attention="block-q=16 block-k=-1" 2>&1 | FileCheck %s --check-prefix=NEG-K
// RUN: not mf-opt %s --pass-pipeline='builtin.module(func.func(evo-tile-attention{block-q=0 block-k=64}))' 2>&1 | FileCheck %s --check-prefix=NESTED

// ZERO-Q: error: evo-tile-attention expects positive block sizes but got block-q=0 block-k=32{{$}}
// NEG-K: error: evo-tile-attention expects positive block sizes but got block-q=16 block-k=-1{{$}}
// NESTED: tile-attention-invalid.mlir:[[@LINE+1]]:1: error: evo-tile-attention expects positive block sizes but got block-q=0 block-k=64{{$}}
func.func @attention(%q: tensor<1x1x?x4x32xf32>) -> tensor<1x1x?x4x32xf32> {
  %o = evo.pair_bias_attention %q, %q, %q
      : (tensor<1x1x?x4x32xf32>, tensor<1x1x?x4x32xf32>,
         tensor<1x1x?x4x32xf32>) -> tensor<1x1x?x4x32xf32>
  return %o : tensor<1x1x?x4x32xf32>
}
