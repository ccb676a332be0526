// RUN: mf-opt %s --convert-evo-to-gpu=f32-as-bf16=true --split-input-file | FileCheck %s
// RUN: mf-opt %s --convert-evo-to-gpu --split-input-file | FileCheck %s --check-prefix=EXACT

// f32 attention on the bf16 tensor-core kernel: the float operands rounded
// to bf16, the mask as it is, the output widened back; the logsumexp stays
// f32. Without the option the op is left for the exact generic path.
// CHECK-LABEL: func.func @attention(
//   CHECK-DAG:   %[[Q:.*]] = arith.truncf %arg0 : tensor<1x?x?x4x32xf32> to tensor<1x?x?x4x32xbf16>
//   CHECK-DAG:   %[[B:.*]] = arith.truncf %arg2 : tensor<1x1x4x?x?xf32> to tensor<1x1x4x?x?xbf16>
//       CHECK:   gpu.launch_func @mf_kernels::@attention_attention_0
//       CHECK:   %[[OUT:.*]] = bufferization.to_tensor %{{.*}} : memref<1x?x?x4x32xbf16>
//       CHECK:   %[[LSE:.*]] = bufferization.to_tensor %{{.*}} : memref<1x?x4x?xf32>
//       CHECK:   %[[WIDE:.*]] = arith.extf %[[OUT]] : tensor<1x?x?x4x32xbf16> to tensor<1x?x?x4x32xf32>
//       CHECK:   return %[[WIDE]], %[[LSE]]
// EXACT-LABEL: func.func @attention(
//   EXACT-NOT:   arith.truncf
//       EXACT:   evo.pair_bias_attention
func.func @attention(%q: tensor<1x?x?x4x32xf32>, %mask: tensor<1x?x1x1x?xi1>,
                     %bias: tensor<1x1x4x?x?xf32>)
    -> (tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %q, %q mask(%mask) bias(%bias) logsumexp
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x1x1x?xi1>, tensor<1x1x4x?x?xf32>)
      -> (tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>)
  return %o, %lse : tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>
}

// -----

// A linear whose input channels no GEMM kernel takes stays exact f32.
// CHECK-LABEL: func.func @wide_linear(
//   CHECK-NOT:   arith.truncf
//       CHECK:   evo.linear
func.func @wide_linear(%x: tensor<?x520xf32>, %w: tensor<8x520xf32>) -> tensor<?x8xf32> {
  %y = evo.linear %x, %w : (tensor<?x520xf32>, tensor<8x520xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
