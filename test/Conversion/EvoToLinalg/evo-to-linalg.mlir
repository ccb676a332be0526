// RUN: mf-opt %s -convert-evo-to-linalg | FileCheck %s
// RUN: mf-opt %s -convert-evo-to-linalg | FileCheck %s --check-prefix=NO-EVO

// Every evo op is lowered; nothing of the dialect is left.
// NO-EVO-NOT: evo.

// pair_bias_attention (mask, bias, gate, scale, logsumexp) -> materialized
// [B, S, H, N, N] scores: q.k, scale + bias + mask, row max, exp, row sum,
// p.v, normalize and gate, and lse = max + log(sum).
// CHECK-LABEL: func @attention
// CHECK-SAME: (%[[Q:.*]]: tensor<1x?x?x4x32xf32>, %[[K:.*]]: tensor<1x?x?x4x32xf32>, %[[V:.*]]: tensor<1x?x?x4x32xf32>, %[[MASK:.*]]: tensor<1x?x1x1x?xi1>, %[[BIAS:.*]]: tensor<1x1x4x?x?xf32>, %[[GATE:.*]]: tensor<1x?x?x4x32xf32>)
// CHECK: %[[QK:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[Q]], %[[K]] : tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>) outs(%{{.*}} : tensor<1x?x4x?x?xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[SC:.*]] = linalg.generic {{.*}} ins(%[[QK]], %[[BIAS]], %[[MASK]] : tensor<1x?x4x?x?xf32>, tensor<1x1x4x?x?xf32>, tensor<1x?x1x1x?xi1>) outs(%{{.*}} : tensor<1x?x4x?x?xf32>)
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[SC]] : tensor<1x?x4x?x?xf32>) outs(%{{.*}} : tensor<1x?x4x?xf32>)
// CHECK: arith.maximumf
// CHECK: %[[SAFE:.*]] = linalg.generic {{.*}} ins(%[[MAX]] : tensor<1x?x4x?xf32>)
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[SC]], %[[SAFE]] : tensor<1x?x4x?x?xf32>, tensor<1x?x4x?xf32>) outs(%{{.*}} : tensor<1x?x4x?x?xf32>)
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[P]] : tensor<1x?x4x?x?xf32>) outs(%{{.*}} : tensor<1x?x4x?xf32>)
// CHECK: %[[PV:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[P]], %[[V]] : tensor<1x?x4x?x?xf32>, tensor<1x?x?x4x32xf32>) outs(%{{.*}} : tensor<1x?x?x4x32xf32>)
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[PV]], %[[SUM]], %[[GATE]] : tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>, tensor<1x?x?x4x32xf32>) outs(%{{.*}} : tensor<1x?x?x4x32xf32>)
// CHECK: arith.divf
// CHECK: math.exp
// CHECK: %[[LSE:.*]] = linalg.generic {{.*}} ins(%[[SAFE]], %[[SUM]] : tensor<1x?x4x?xf32>, tensor<1x?x4x?xf32>) outs(%{{.*}} : tensor<1x?x4x?xf32>)
// CHECK: math.log
// CHECK: return %[[O]], %[[LSE]] : tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>
func.func @attention(%q: tensor<1x?x?x4x32xf32>, %k: tensor<1x?x?x4x32xf32>,
    %v: tensor<1x?x?x4x32xf32>, %m: tensor<1x?x1x1x?xi1>,
    %b: tensor<1x1x4x?x?xf32>, %g: tensor<1x?x?x4x32xf32>)
    -> (tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) gate(%g)
      scale(0.5) logsumexp
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xf32>, tensor<1x?x?x4x32xf32>)
      -> (tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>)
  return %o, %lse : tensor<1x?x?x4x32xf32>, tensor<1x?x4x?xf32>
}

// layernorm -> two reductions over the last dim (sum, then the squared
// deviations from the mean), then one elementwise generic with rsqrt, eps,
// gamma and beta.
// CHECK-LABEL: func @layernorm
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[G:.*]]: tensor<16xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[X]] : tensor<?x16xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[X]], %[[SUM]] : tensor<?x16xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: arith.constant 6.250000e-02 : f32
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[SUM]], %[[SQ]], %[[G]], %[[B]] : tensor<?x16xf32>, tensor<?xf32>, tensor<?xf32>, tensor<16xf32>, tensor<16xf32>) outs(%{{.*}} : tensor<?x16xf32>)
// CHECK: arith.constant 1.000000e-03 : f32
// CHECK: math.rsqrt
// CHECK: return %[[Y]] : tensor<?x16xf32>
func.func @layernorm(%x: tensor<?x16xf32>, %g: tensor<16xf32>,
    %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %y = evo.layernorm %x, %g, %b eps(1.0e-3)
      : (tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// linear with a bias -> the bias broadcast into the accumulator, w
// transposed once, then a contraction over k with n innermost.
// CHECK-LABEL: func @linear_bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[W:.*]]: tensor<4x16xf32>, %[[C:.*]]: tensor<4xf32>)
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[C]] : tensor<4xf32>) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK: %[[WT:.*]] = linalg.transpose ins(%[[W]] : tensor<4x16xf32>) outs(%{{.*}} : tensor<16x4xf32>) permutation = [1, 0]
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[X]], %[[WT]] : tensor<?x16xf32>, tensor<16x4xf32>) outs(%[[INIT]] : tensor<?x4xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: return %[[Y]] : tensor<?x4xf32>
func.func @linear_bias(%x: tensor<?x16xf32>, %w: tensor<4x16xf32>,
    %c: tensor<4xf32>) -> tensor<?x4xf32> {
  %y = evo.linear %x, %w bias(%c)
      : (tensor<?x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// layernorm_linear -> the layernorm generics feeding the contraction
// directly (the normalized tensor stays f32).
// CHECK-LABEL: func @layernorm_linear
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x16xf32>, %[[G:.*]]: tensor<16xf32>, %[[B:.*]]: tensor<16xf32>, %[[W:.*]]: tensor<4x16xf32>, %[[C:.*]]: tensor<4xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<1x?x16xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %{{.*}} : tensor<1x?x16xf32>, tensor<1x?xf32>)
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[X]], %{{.*}}, %{{.*}}, %[[G]], %[[B]] : {{.*}}) outs(%{{.*}} : tensor<1x?x16xf32>)
// CHECK: arith.constant 9.99999997E-7 : f32
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[C]] : tensor<4xf32>) outs(%{{.*}} : tensor<1x?x4xf32>)
// CHECK: %[[WT:.*]] = linalg.transpose ins(%[[W]] : tensor<4x16xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[N]], %[[WT]] : tensor<1x?x16xf32>, tensor<16x4xf32>) outs(%[[INIT]] : tensor<1x?x4xf32>)
// CHECK: return %[[Y]] : tensor<1x?x4xf32>
func.func @layernorm_linear(%x: tensor<1x?x16xf32>, %g: tensor<16xf32>,
    %b: tensor<16xf32>, %w: tensor<4x16xf32>, %c: tensor<4xf32>)
    -> tensor<1x?x4xf32> {
  %y = evo.layernorm_linear %x, %g, %b, %w bias(%c) eps(1.0e-6)
      : (tensor<1x?x16xf32>, tensor<16xf32>, tensor<16xf32>,
         tensor<4x16xf32>, tensor<4xf32>) -> tensor<1x?x4xf32>
  return %y : tensor<1x?x4xf32>
}

// swiglu -> the two halves of the last dim as slices, a = x[..., :4] and
// b = x[..., 4:], then one elementwise generic a * b * sigmoid(b).
// CHECK-LABEL: func @swiglu
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK: %[[D:.*]] = tensor.dim %[[X]]
// CHECK: %[[A:.*]] = tensor.extract_slice %[[X]][0, 0] [%[[D]], 4] [1, 1] : tensor<?x8xf32> to tensor<?x4xf32>
// CHECK: %[[G:.*]] = tensor.extract_slice %[[X]][0, 4] [%[[D]], 4] [1, 1] : tensor<?x8xf32> to tensor<?x4xf32>
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[A]], %[[G]] : tensor<?x4xf32>, tensor<?x4xf32>) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK-NEXT: ^bb0(%[[AIN:.*]]: f32, %[[GIN:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[NEG:.*]] = arith.negf %[[GIN]] : f32
// CHECK: %[[E:.*]] = math.exp %[[NEG]] : f32
// CHECK: %[[DEN:.*]] = arith.addf %{{.*}}, %[[E]] : f32
// CHECK: %[[SIG:.*]] = arith.divf %{{.*}}, %[[DEN]] : f32
// CHECK: %[[SILU:.*]] = arith.mulf %[[GIN]], %[[SIG]] : f32
// CHECK: %[[R:.*]] = arith.mulf %[[AIN]], %[[SILU]] : f32
// CHECK: linalg.yield %[[R]] : f32
// CHECK: return %[[Y]] : tensor<?x4xf32>
func.func @swiglu(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %y = evo.swiglu %x : (tensor<?x8xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// transition -> layernorm, up projection (no bias: the accumulator is a
// fill), swiglu on the halves of [?, 128], down projection.
// CHECK-LABEL: func @transition
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[G:.*]]: tensor<16xf32>, %[[B:.*]]: tensor<16xf32>, %[[UP:.*]]: tensor<128x16xf32>, %[[DOWN:.*]]: tensor<16x64xf32>)
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[X]], %{{.*}}, %{{.*}}, %[[G]], %[[B]] : {{.*}}) outs(%{{.*}} : tensor<?x16xf32>)
// CHECK: math.rsqrt
// CHECK: %[[Z0:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x128xf32>)
// CHECK: %[[UPT:.*]] = linalg.transpose ins(%[[UP]] : tensor<128x16xf32>)
// CHECK: %[[H:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[N]], %[[UPT]] : tensor<?x16xf32>, tensor<16x128xf32>) outs(%[[Z0]] : tensor<?x128xf32>)
// CHECK: %[[HA:.*]] = tensor.extract_slice %[[H]][0, 0] [%{{.*}}, 64] [1, 1] : tensor<?x128xf32> to tensor<?x64xf32>
// CHECK: %[[HB:.*]] = tensor.extract_slice %[[H]][0, 64] [%{{.*}}, 64] [1, 1] : tensor<?x128xf32> to tensor<?x64xf32>
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%[[HA]], %[[HB]] : tensor<?x64xf32>, tensor<?x64xf32>) outs(%{{.*}} : tensor<?x64xf32>)
// CHECK: %[[Z1:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x16xf32>)
// CHECK: %[[DOWNT:.*]] = linalg.transpose ins(%[[DOWN]] : tensor<16x64xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[A]], %[[DOWNT]] : tensor<?x64xf32>, tensor<64x16xf32>) outs(%[[Z1]] : tensor<?x16xf32>)
// CHECK: return %[[Y]] : tensor<?x16xf32>
func.func @transition(%x: tensor<?x16xf32>, %g: tensor<16xf32>,
    %b: tensor<16xf32>, %up: tensor<128x16xf32>, %down: tensor<16x64xf32>)
    -> tensor<?x16xf32> {
  %y = evo.transition %x, %g, %b, %up, %down
      : (tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>,
         tensor<128x16xf32>, tensor<16x64xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// bf16 layernorm_linear -> statistics and accumulation in f32: the bf16
// inputs are extended inside the generics, and the result is truncated to
// bf16 once, at the end (not between the layernorm and the linear).
// CHECK-LABEL: func @layernorm_linear_bf16
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x16xbf16>, %{{.*}}: tensor<16xbf16>, %{{.*}}: tensor<16xbf16>, %[[W:.*]]: tensor<4x16xbf16>, %[[C:.*]]: tensor<4xbf16>)
// CHECK-NOT: arith.truncf
// CHECK: linalg.generic {{.*}} ins(%[[X]] : tensor<1x?x16xbf16>) outs(%{{.*}} : tensor<1x?xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: bf16, %{{.*}}: f32):
// CHECK-NEXT: arith.extf %[[IN]] : bf16 to f32
// CHECK-NOT: arith.truncf
// CHECK: %[[N:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x?x16xf32>)
// CHECK-NOT: arith.truncf
// CHECK: linalg.generic {{.*}} ins(%[[C]] : tensor<4xbf16>) outs(%{{.*}} : tensor<1x?x4xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK-NOT: arith.truncf
// CHECK: %[[WT:.*]] = linalg.transpose ins(%[[W]] : tensor<4x16xbf16>)
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} ins(%[[N]], %[[WT]] : tensor<1x?x16xf32>, tensor<16x4xbf16>) outs(%{{.*}} : tensor<1x?x4xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK-NOT: arith.truncf
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<1x?x4xf32>) outs(%{{.*}} : tensor<1x?x4xbf16>)
// CHECK-NEXT: ^bb0(%[[V:.*]]: f32, %{{.*}}: bf16):
// CHECK-NEXT: %[[T:.*]] = arith.truncf %[[V]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[T]] : bf16
// CHECK-NOT: arith.truncf
// CHECK: return %[[Y]] : tensor<1x?x4xbf16>
func.func @layernorm_linear_bf16(%x: tensor<1x?x16xbf16>,
    %g: tensor<16xbf16>, %b: tensor<16xbf16>, %w: tensor<4x16xbf16>,
    %c: tensor<4xbf16>) -> tensor<1x?x4xbf16> {
  %y = evo.layernorm_linear %x, %g, %b, %w bias(%c)
      : (tensor<1x?x16xbf16>, tensor<16xbf16>, tensor<16xbf16>,
         tensor<4x16xbf16>, tensor<4xbf16>) -> tensor<1x?x4xbf16>
  return %y : tensor<1x?x4xbf16>
}

// bf16 attention -> q, k, v and the gate extended in the generics that read
// them; only the output is truncated (the lse is f32).
// CHECK-LABEL: func @attention_bf16
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x1x?x2x8xbf16>, tensor<1x1x?x2x8xbf16>) outs(%{{.*}} : tensor<1x1x2x?x?xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK-NOT: arith.truncf
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x?x2x8xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NOT: arith.truncf
// CHECK: return
func.func @attention_bf16(%q: tensor<1x1x?x2x8xbf16>,
    %k: tensor<1x1x?x2x8xbf16>, %v: tensor<1x1x?x2x8xbf16>,
    %g: tensor<1x1x?x2x8xbf16>) -> tensor<1x1x?x2x8xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v gate(%g)
      : (tensor<1x1x?x2x8xbf16>, tensor<1x1x?x2x8xbf16>,
         tensor<1x1x?x2x8xbf16>, tensor<1x1x?x2x8xbf16>)
      -> tensor<1x1x?x2x8xbf16>
  return %o : tensor<1x1x?x2x8xbf16>
}
