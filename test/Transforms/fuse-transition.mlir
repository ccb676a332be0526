// RUN: mf-opt %s -evo-fuse-transition | FileCheck %s
// The compiler's order (mf-lower-to-cpu-pipeline): the transition first, then
// layernorm + linear, which would otherwise take the chain's head.
// RUN: mf-opt %s -pass-pipeline='builtin.module(func.func(evo-fuse-transition,evo-fuse-layernorm-linear))' \
// RUN:   | FileCheck %s --check-prefix=BOTH
// The other order lets layernorm + linear take the chain's head first, and
// the transition no longer matches.
// RUN: mf-opt %s -pass-pipeline='builtin.module(func.func(evo-fuse-layernorm-linear,evo-fuse-transition))' \
// RUN:   | FileCheck %s --check-prefix=REVERSED

// linear(swiglu(linear(layernorm(x), up)), down) -> transition(x, up, down),
// with the layernorm's eps.
// CHECK-LABEL: func @fuse_chain
// CHECK-SAME: (%[[X:.*]]: tensor<?x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[UP:.*]]: tensor<1024x128xf32>, %[[DOWN:.*]]: tensor<128x512xf32>)
// CHECK-NOT: evo.layernorm
// CHECK-NOT: evo.linear
// CHECK-NOT: evo.swiglu
// CHECK: %[[Y:.*]] = evo.transition %[[X]], %[[G]], %[[B]], %[[UP]], %[[DOWN]] eps(1.000000e-03) : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
// CHECK-NEXT: return %[[Y]]
func.func @fuse_chain(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %n = evo.layernorm %x, %g, %b eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// The same chain in bf16 with more batch dims and the default eps (elided).
// CHECK-LABEL: func @fuse_chain_bf16
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x?x64xbf16>, %[[G:.*]]: tensor<64xbf16>, %[[B:.*]]: tensor<64xbf16>, %[[UP:.*]]: tensor<256x64xbf16>, %[[DOWN:.*]]: tensor<64x128xbf16>)
// CHECK: %[[Y:.*]] = evo.transition %[[X]], %[[G]], %[[B]], %[[UP]], %[[DOWN]] : (
// CHECK-SAME: -> tensor<1x?x?x64xbf16>
// CHECK-NEXT: return %[[Y]]
func.func @fuse_chain_bf16(%x: tensor<1x?x?x64xbf16>, %g: tensor<64xbf16>,
    %b: tensor<64xbf16>, %up: tensor<256x64xbf16>,
    %down: tensor<64x128xbf16>) -> tensor<1x?x?x64xbf16> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<1x?x?x64xbf16>, tensor<64xbf16>, tensor<64xbf16>)
      -> tensor<1x?x?x64xbf16>
  %h = evo.linear %n, %up
      : (tensor<1x?x?x64xbf16>, tensor<256x64xbf16>) -> tensor<1x?x?x256xbf16>
  %a = evo.swiglu %h : (tensor<1x?x?x256xbf16>) -> tensor<1x?x?x128xbf16>
  %y = evo.linear %a, %down
      : (tensor<1x?x?x128xbf16>, tensor<64x128xbf16>) -> tensor<1x?x?x64xbf16>
  return %y : tensor<1x?x?x64xbf16>
}

// Negative: the up projection has a bias; the transition has none.
// CHECK-LABEL: func @no_fuse_up_bias
// CHECK-NOT: evo.transition
// CHECK: evo.layernorm
// CHECK: evo.linear %{{.*}}, %{{.*}} bias(%{{.*}}) :
// CHECK: evo.swiglu
// CHECK: evo.linear
// CHECK-NOT: evo.transition
// CHECK: return
func.func @no_fuse_up_bias(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>, %upb: tensor<1024xf32>,
    %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up bias(%upb)
      : (tensor<?x128xf32>, tensor<1024x128xf32>, tensor<1024xf32>)
      -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// Negative: the down projection has a bias.
// CHECK-LABEL: func @no_fuse_down_bias
// CHECK-NOT: evo.transition
// CHECK: evo.layernorm
// CHECK: evo.linear
// CHECK: evo.swiglu
// CHECK: evo.linear %{{.*}}, %{{.*}} bias(%{{.*}}) :
// CHECK-NOT: evo.transition
// CHECK: return
func.func @no_fuse_down_bias(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>, %downb: tensor<128xf32>)
    -> tensor<?x128xf32> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down bias(%downb)
      : (tensor<?x512xf32>, tensor<128x512xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// Negative: the layernorm result has a second use (it is returned).
// CHECK-LABEL: func @no_fuse_ln_second_use
// CHECK-NOT: evo.transition
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[H:.*]] = evo.linear %[[N]]
// CHECK: %[[A:.*]] = evo.swiglu %[[H]]
// CHECK: %[[Y:.*]] = evo.linear %[[A]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]], %[[N]]
func.func @no_fuse_ln_second_use(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> (tensor<?x128xf32>, tensor<?x128xf32>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y, %n : tensor<?x128xf32>, tensor<?x128xf32>
}

// Negative: the up projection's result has a second use.
// CHECK-LABEL: func @no_fuse_up_second_use
// CHECK-NOT: evo.transition
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[H:.*]] = evo.linear %[[N]]
// CHECK: %[[A:.*]] = evo.swiglu %[[H]]
// CHECK: %[[Y:.*]] = evo.linear %[[A]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]], %[[H]]
func.func @no_fuse_up_second_use(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> (tensor<?x128xf32>, tensor<?x1024xf32>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y, %h : tensor<?x128xf32>, tensor<?x1024xf32>
}

// Negative: the swiglu result has a second use.
// CHECK-LABEL: func @no_fuse_swiglu_second_use
// CHECK-NOT: evo.transition
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[H:.*]] = evo.linear %[[N]]
// CHECK: %[[A:.*]] = evo.swiglu %[[H]]
// CHECK: %[[Y:.*]] = evo.linear %[[A]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]], %[[A]]
func.func @no_fuse_swiglu_second_use(%x: tensor<?x128xf32>,
    %g: tensor<128xf32>, %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> (tensor<?x128xf32>, tensor<?x512xf32>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y, %a : tensor<?x128xf32>, tensor<?x512xf32>
}

// Negative: an incomplete chain, with no layernorm in front of the up
// projection.
// CHECK-LABEL: func @no_fuse_no_layernorm
// CHECK-NOT: evo.transition
// CHECK: %[[H:.*]] = evo.linear
// CHECK: %[[A:.*]] = evo.swiglu %[[H]]
// CHECK: %[[Y:.*]] = evo.linear %[[A]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]]
func.func @no_fuse_no_layernorm(%x: tensor<?x128xf32>,
    %up: tensor<1024x128xf32>, %down: tensor<128x512xf32>)
    -> tensor<?x128xf32> {
  %h = evo.linear %x, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// Negative: an incomplete chain, with no up projection before the swiglu.
// CHECK-LABEL: func @no_fuse_no_up_projection
// CHECK-NOT: evo.transition
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[A:.*]] = evo.swiglu %[[N]]
// CHECK: %[[Y:.*]] = evo.linear %[[A]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]]
func.func @no_fuse_no_up_projection(%x: tensor<?x256xf32>,
    %g: tensor<256xf32>, %b: tensor<256xf32>, %down: tensor<256x128xf32>)
    -> tensor<?x256xf32> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x256xf32>, tensor<256xf32>, tensor<256xf32>)
      -> tensor<?x256xf32>
  %a = evo.swiglu %n : (tensor<?x256xf32>) -> tensor<?x128xf32>
  %y = evo.linear %a, %down
      : (tensor<?x128xf32>, tensor<256x128xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// Negative: an incomplete chain, with no swiglu (layernorm, linear, linear).
// CHECK-LABEL: func @no_fuse_no_swiglu
// CHECK-NOT: evo.transition
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[H:.*]] = evo.linear %[[N]]
// CHECK: %[[Y:.*]] = evo.linear %[[H]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]]
func.func @no_fuse_no_swiglu(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<512x128xf32>,
    %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<512x128xf32>) -> tensor<?x512xf32>
  %y = evo.linear %h, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// Negative: the down projection does not map back to the layernorm's width
// (128 -> 64), so the chain is not a transition.
// CHECK-LABEL: func @no_fuse_other_output_width
// CHECK-NOT: evo.transition
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[H:.*]] = evo.linear %[[N]]
// CHECK: %[[A:.*]] = evo.swiglu %[[H]]
// CHECK: %[[Y:.*]] = evo.linear %[[A]]
// CHECK-NOT: evo.transition
// CHECK: return %[[Y]]
func.func @no_fuse_other_output_width(%x: tensor<?x128xf32>,
    %g: tensor<128xf32>, %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<64x512xf32>) -> tensor<?x64xf32> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<64x512xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Both passes in the compiler's order: the transition chain becomes one
// evo.transition, and a separate layernorm + linear pair (here the transition
// output's own projection) becomes a layernorm_linear.
// BOTH-LABEL: func @transition_then_layernorm_linear
// BOTH-SAME: (%[[X:.*]]: tensor<?x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[UP:.*]]: tensor<1024x128xf32>, %[[DOWN:.*]]: tensor<128x512xf32>, %[[G2:.*]]: tensor<128xf32>, %[[B2:.*]]: tensor<128xf32>, %[[W:.*]]: tensor<16x128xf32>)
// BOTH-NOT: evo.layernorm {{.*}}:
// BOTH-NOT: evo.linear
// BOTH-NOT: evo.swiglu
// BOTH: %[[T:.*]] = evo.transition %[[X]], %[[G]], %[[B]], %[[UP]], %[[DOWN]] eps(1.000000e-03) :
// BOTH: %[[Y:.*]] = evo.layernorm_linear %[[T]], %[[G2]], %[[B2]], %[[W]] eps(9.99999974E-5) :
// BOTH-NOT: evo.layernorm {{.*}}:
// BOTH-NOT: evo.linear
// BOTH: return %[[Y]]
// REVERSED-LABEL: func @transition_then_layernorm_linear
// REVERSED-NOT: evo.transition
// REVERSED: %[[H:.*]] = evo.layernorm_linear
// REVERSED: %[[A:.*]] = evo.swiglu %[[H]]
// REVERSED: %[[T:.*]] = evo.linear %[[A]]
// REVERSED: evo.layernorm_linear %[[T]]
// REVERSED-NOT: evo.transition
// Without the layernorm-linear pass the second pair is untouched.
// CHECK-LABEL: func @transition_then_layernorm_linear
// CHECK: %[[T:.*]] = evo.transition
// CHECK: %[[N:.*]] = evo.layernorm %[[T]]
// CHECK: evo.linear %[[N]]
func.func @transition_then_layernorm_linear(%x: tensor<?x128xf32>,
    %g: tensor<128xf32>, %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>, %g2: tensor<128xf32>, %b2: tensor<128xf32>,
    %w: tensor<16x128xf32>) -> tensor<?x16xf32> {
  %n = evo.layernorm %x, %g, %b eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %t = evo.linear %a, %down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  %n2 = evo.layernorm %t, %g2, %b2 eps(1.0e-4)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %y = evo.linear %n2, %w
      : (tensor<?x128xf32>, tensor<16x128xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
