// RUN: mf-opt %s | mf-opt | FileCheck %s
// RUN: mf-opt %s -mlir-print-op-generic | mf-opt | FileCheck %s
// RUN: mf-opt %s -mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK-LABEL: func @attention_all_operands
// CHECK: %{{.*}}, %{{.*}} = evo.pair_bias_attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) bias(%{{.*}}) gate(%{{.*}}) scale(2.500000e-01) logsumexp
// CHECK-SAME: -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>)
// GENERIC-LABEL: sym_name = "attention_all_operands"
// GENERIC: "evo.pair_bias_attention"({{.*}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>, return_lse, scale = 2.500000e-01 : f32}>
func.func @attention_all_operands(
    %q: tensor<2x?x?x4x32xbf16>, %k: tensor<2x?x?x4x32xbf16>,
    %v: tensor<2x?x?x4x32xbf16>, %m: tensor<2x?x1x1x?xi1>,
    %b: tensor<2x1x4x?x?xbf16>, %g: tensor<2x?x?x4x32xbf16>)
    -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) gate(%g)
      scale(0.25) logsumexp
      : (tensor<2x?x?x4x32xbf16>, tensor<2x?x?x4x32xbf16>,
         tensor<2x?x?x4x32xbf16>, tensor<2x?x1x1x?xi1>,
         tensor<2x1x4x?x?xbf16>, tensor<2x?x?x4x32xbf16>)
      -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>)
  return %o, %lse : tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>
}

// CHECK-LABEL: func @attention_plain
// CHECK: evo.pair_bias_attention %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x1x7x16x24xf16>, tensor<1x1x7x16x24xf16>, tensor<1x1x7x16x24xf16>) -> tensor<1x1x7x16x24xf16>
// GENERIC-LABEL: sym_name = "attention_plain"
// GENERIC: operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>
func.func @attention_plain(%q: tensor<1x1x7x16x24xf16>,
    %k: tensor<1x1x7x16x24xf16>, %v: tensor<1x1x7x16x24xf16>)
    -> tensor<1x1x7x16x24xf16> {
  %o = evo.pair_bias_attention %q, %k, %v
      : (tensor<1x1x7x16x24xf16>, tensor<1x1x7x16x24xf16>,
         tensor<1x1x7x16x24xf16>) -> tensor<1x1x7x16x24xf16>
  return %o : tensor<1x1x7x16x24xf16>
}

// The bias alone, no mask or gate (k and v may be more static than q).
// CHECK-LABEL: func @attention_bias_only
// CHECK: evo.pair_bias_attention %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}}) :
func.func @attention_bias_only(%q: tensor<?x?x?x8x32xf32>,
    %k: tensor<1x5x9x8x32xf32>, %v: tensor<?x5x?x8x32xf32>,
    %b: tensor<1x1x8x9x9xf32>) -> tensor<?x?x?x8x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v bias(%b)
      : (tensor<?x?x?x8x32xf32>, tensor<1x5x9x8x32xf32>,
         tensor<?x5x?x8x32xf32>, tensor<1x1x8x9x9xf32>)
      -> tensor<?x?x?x8x32xf32>
  return %o : tensor<?x?x?x8x32xf32>
}

// CHECK-LABEL: func @layernorm
// CHECK: evo.layernorm %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x?x?x128xf32>
// The default eps (1e-5) is elided; another is printed.
// CHECK: evo.layernorm %{{.*}}, %{{.*}}, %{{.*}} eps(1.000000e-03) :
// GENERIC-LABEL: sym_name = "layernorm"
// GENERIC: "evo.layernorm"({{.*}}) <{eps = 9.99999974E-6 : f32}>
// GENERIC: "evo.layernorm"({{.*}}) <{eps = 1.000000e-03 : f32}>
func.func @layernorm(%x: tensor<1x?x?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>) -> (tensor<1x?x?x128xf32>, tensor<1x?x?x128xf32>) {
  %y = evo.layernorm %x, %g, %b eps(1.0e-5)
      : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<1x?x?x128xf32>
  %z = evo.layernorm %x, %g, %b eps(1.0e-3)
      : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<1x?x?x128xf32>
  return %y, %z : tensor<1x?x?x128xf32>, tensor<1x?x?x128xf32>
}

// CHECK-LABEL: func @linear
// CHECK: evo.linear %{{.*}}, %{{.*}} : (tensor<?x128xbf16>, tensor<4x128xbf16>) -> tensor<?x4xbf16>
// CHECK: evo.linear %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<?x128xbf16>, tensor<4x128xbf16>, tensor<4xbf16>) -> tensor<?x4xbf16>
func.func @linear(%x: tensor<?x128xbf16>, %w: tensor<4x128xbf16>,
    %b: tensor<4xbf16>) -> (tensor<?x4xbf16>, tensor<?x4xbf16>) {
  %y = evo.linear %x, %w
      : (tensor<?x128xbf16>, tensor<4x128xbf16>) -> tensor<?x4xbf16>
  %z = evo.linear %x, %w bias(%b)
      : (tensor<?x128xbf16>, tensor<4x128xbf16>, tensor<4xbf16>)
      -> tensor<?x4xbf16>
  return %y, %z : tensor<?x4xbf16>, tensor<?x4xbf16>
}

// CHECK-LABEL: func @layernorm_linear
// CHECK: evo.layernorm_linear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}}) eps(9.99999997E-7) : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<516x128xf32>, tensor<516xf32>) -> tensor<1x?x?x516xf32>
func.func @layernorm_linear(%x: tensor<1x?x?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %w: tensor<516x128xf32>, %wb: tensor<516xf32>)
    -> tensor<1x?x?x516xf32> {
  %y = evo.layernorm_linear %x, %g, %b, %w bias(%wb) eps(1.0e-6)
      : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<516x128xf32>, tensor<516xf32>) -> tensor<1x?x?x516xf32>
  return %y : tensor<1x?x?x516xf32>
}

// CHECK-LABEL: func @swiglu
// CHECK: evo.swiglu %{{.*}} : (tensor<?x?x1024xf16>) -> tensor<?x?x512xf16>
func.func @swiglu(%x: tensor<?x?x1024xf16>) -> tensor<?x?x512xf16> {
  %y = evo.swiglu %x : (tensor<?x?x1024xf16>) -> tensor<?x?x512xf16>
  return %y : tensor<?x?x512xf16>
}

// CHECK-LABEL: func @transition
// CHECK: evo.transition %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
func.func @transition(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %y = evo.transition %x, %g, %b, %up, %down
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
