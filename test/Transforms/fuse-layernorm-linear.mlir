// RUN: mf-opt %s -evo-fuse-layernorm-linear | FileCheck %s

// linear(layernorm(x)) with a bias -> layernorm_linear(x) with that bias and
// the layernorm's eps.
// CHECK-LABEL: func @fuse_with_bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[W:.*]]: tensor<4x128xf32>, %[[C:.*]]: tensor<4xf32>)
// CHECK-NOT: evo.layernorm {{.*}}:
// CHECK-NOT: evo.linear
// CHECK: %[[Y:.*]] = evo.layernorm_linear %[[X]], %[[G]], %[[B]], %[[W]] bias(%[[C]]) eps(1.000000e-03) : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<4x128xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: return %[[Y]]
func.func @fuse_with_bias(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %w: tensor<4x128xf32>, %c: tensor<4xf32>)
    -> tensor<?x4xf32> {
  %n = evo.layernorm %x, %g, %b eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %y = evo.linear %n, %w bias(%c)
      : (tensor<?x128xf32>, tensor<4x128xf32>, tensor<4xf32>)
      -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// linear(layernorm(x)) without a bias -> layernorm_linear(x) without one; a
// non-default eps is carried over.
// CHECK-LABEL: func @fuse_without_bias
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x?x64xbf16>, %[[G:.*]]: tensor<64xbf16>, %[[B:.*]]: tensor<64xbf16>, %[[W:.*]]: tensor<16x64xbf16>)
// CHECK-NOT: evo.layernorm {{.*}}:
// CHECK-NOT: evo.linear
// CHECK: %[[Y:.*]] = evo.layernorm_linear %[[X]], %[[G]], %[[B]], %[[W]] eps(9.99999997E-7) : (tensor<1x?x?x64xbf16>, tensor<64xbf16>, tensor<64xbf16>, tensor<16x64xbf16>) -> tensor<1x?x?x16xbf16>
// CHECK-NEXT: return %[[Y]]
func.func @fuse_without_bias(%x: tensor<1x?x?x64xbf16>, %g: tensor<64xbf16>,
    %b: tensor<64xbf16>, %w: tensor<16x64xbf16>) -> tensor<1x?x?x16xbf16> {
  %n = evo.layernorm %x, %g, %b eps(1.0e-6)
      : (tensor<1x?x?x64xbf16>, tensor<64xbf16>, tensor<64xbf16>)
      -> tensor<1x?x?x64xbf16>
  %y = evo.linear %n, %w
      : (tensor<1x?x?x64xbf16>, tensor<16x64xbf16>) -> tensor<1x?x?x16xbf16>
  return %y : tensor<1x?x?x16xbf16>
}

// The default eps (1e-5) stays the default: it is elided in the fused op too.
// CHECK-LABEL: func @fuse_default_eps
// CHECK-SAME: (%[[X:.*]]: tensor<?x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[W:.*]]: tensor<4x128xf32>)
// CHECK: %[[Y:.*]] = evo.layernorm_linear %[[X]], %[[G]], %[[B]], %[[W]] : (
// CHECK-NEXT: return %[[Y]]
func.func @fuse_default_eps(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %w: tensor<4x128xf32>) -> tensor<?x4xf32> {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %y = evo.linear %n, %w
      : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// Negative: the layernorm result is also returned, so it is needed anyway and
// the pair is left alone.
// CHECK-LABEL: func @no_fuse_ln_returned
// CHECK-SAME: (%[[X:.*]]: tensor<?x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[W:.*]]: tensor<4x128xf32>)
// CHECK-NOT: evo.layernorm_linear
// CHECK: %[[N:.*]] = evo.layernorm %[[X]], %[[G]], %[[B]] eps(1.000000e-03) :
// CHECK: %[[Y:.*]] = evo.linear %[[N]], %[[W]] :
// CHECK-NOT: evo.layernorm_linear
// CHECK: return %[[Y]], %[[N]]
func.func @no_fuse_ln_returned(%x: tensor<?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %w: tensor<4x128xf32>)
    -> (tensor<?x4xf32>, tensor<?x128xf32>) {
  %n = evo.layernorm %x, %g, %b eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %y = evo.linear %n, %w
      : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %y, %n : tensor<?x4xf32>, tensor<?x128xf32>
}

// Negative: two linears read the same layernorm (as the q, k, v projections
// of attention do); neither fuses, the layernorm is computed once.
// CHECK-LABEL: func @no_fuse_ln_shared_by_two_linears
// CHECK-NOT: evo.layernorm_linear
// CHECK: %[[N:.*]] = evo.layernorm
// CHECK: %[[Y0:.*]] = evo.linear %[[N]], %{{.*}} :
// CHECK: %[[Y1:.*]] = evo.linear %[[N]], %{{.*}} :
// CHECK-NOT: evo.layernorm_linear
// CHECK: return %[[Y0]], %[[Y1]]
func.func @no_fuse_ln_shared_by_two_linears(%x: tensor<?x128xf32>,
    %g: tensor<128xf32>, %b: tensor<128xf32>, %w0: tensor<4x128xf32>,
    %w1: tensor<8x128xf32>) -> (tensor<?x4xf32>, tensor<?x8xf32>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %y0 = evo.linear %n, %w0
      : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  %y1 = evo.linear %n, %w1
      : (tensor<?x128xf32>, tensor<8x128xf32>) -> tensor<?x8xf32>
  return %y0, %y1 : tensor<?x4xf32>, tensor<?x8xf32>
}

// Negative: the linear's input is not a layernorm (a function argument, then
// a swiglu); nothing changes.
// CHECK-LABEL: func @no_fuse_not_layernorm
// CHECK-SAME: (%[[X:.*]]: tensor<?x128xf32>, %[[W:.*]]: tensor<4x128xf32>, %[[W2:.*]]: tensor<4x64xf32>)
// CHECK-NOT: evo.layernorm_linear
// CHECK: %[[Y:.*]] = evo.linear %[[X]], %[[W]] :
// CHECK: %[[A:.*]] = evo.swiglu %[[X]] :
// CHECK: %[[Z:.*]] = evo.linear %[[A]], %[[W2]] :
// CHECK-NOT: evo.layernorm_linear
// CHECK: return %[[Y]], %[[Z]]
func.func @no_fuse_not_layernorm(%x: tensor<?x128xf32>,
    %w: tensor<4x128xf32>, %w2: tensor<4x64xf32>)
    -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %y = evo.linear %x, %w
      : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  %a = evo.swiglu %x : (tensor<?x128xf32>) -> tensor<?x64xf32>
  %z = evo.linear %a, %w2
      : (tensor<?x64xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  return %y, %z : tensor<?x4xf32>, tensor<?x4xf32>
}
