// RUN: mf-opt %s -split-input-file -verify-diagnostics

// One chunk per verifier message of every evo op: ranks, static dims, dim
// agreement, element types, attributes and result types.

//===----------------------------------------------------------------------===//
// pair_bias_attention
//===----------------------------------------------------------------------===//

func.func @f(%q: tensor<1x?x4x32xbf16>, %k: tensor<1x?x4x32xbf16>, %v: tensor<1x?x4x32xbf16>) -> tensor<1x?x4x32xbf16> {
  // expected-error @+1 {{expects q to have rank 5 ([B, S, N, H, D]) but got rank 4}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x4x32xbf16>, tensor<1x?x4x32xbf16>, tensor<1x?x4x32xbf16>) -> tensor<1x?x4x32xbf16>
  return %o : tensor<1x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x?x32xbf16>, %k: tensor<1x?x?x?x32xbf16>, %v: tensor<1x?x?x?x32xbf16>) -> tensor<1x?x?x?x32xbf16> {
  // expected-error @+1 {{expects q dim 3 (H) to be static: heads H, head dim D, channels C and hidden width F must be static (only B, S and N may be dynamic)}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x?x?x32xbf16>, tensor<1x?x?x?x32xbf16>, tensor<1x?x?x?x32xbf16>) -> tensor<1x?x?x?x32xbf16>
  return %o : tensor<1x?x?x?x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x?xbf16>, %k: tensor<1x?x?x4x?xbf16>, %v: tensor<1x?x?x4x?xbf16>) -> tensor<1x?x?x4x?xbf16> {
  // expected-error @+1 {{expects q dim 4 (D) to be static}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x?x4x?xbf16>, tensor<1x?x?x4x?xbf16>, tensor<1x?x?x4x?xbf16>) -> tensor<1x?x?x4x?xbf16>
  return %o : tensor<1x?x?x4x?xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects k to have rank 5 ([B, S, N, H, D]) but got rank 4}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x?x4x32xbf16>, tensor<1x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xf32>, %v: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects k element type 'bf16' (as q) but got 'f32'}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x33x4x32xbf16>, %k: tensor<1x?x33x4x32xbf16>, %v: tensor<1x?x32x4x32xbf16>) -> tensor<1x?x33x4x32xbf16> {
  // expected-error @+1 {{expects v dim 2 (N) to be 33 (as q) but got 32}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x33x4x32xbf16>, tensor<1x?x33x4x32xbf16>, tensor<1x?x32x4x32xbf16>) -> tensor<1x?x33x4x32xbf16>
  return %o : tensor<1x?x33x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x1x?xi1>, %b: tensor<1x1x4x?x?xbf16>, %g: tensor<1x?x?x8x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects gate dim 3 (H) to be 4 (as q) but got 8}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) gate(%g) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>, tensor<1x1x4x?x?xbf16>, tensor<1x?x?x8x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<2x?x?x4x32xbf16>, %k: tensor<2x?x?x4x32xbf16>, %v: tensor<2x?x?x4x32xbf16>, %m: tensor<3x?x1x1x?xi1>) -> tensor<2x?x?x4x32xbf16> {
  // expected-error @+1 {{expects mask dim 0 (B) to be 2 (as q) but got 3}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) : (tensor<2x?x?x4x32xbf16>, tensor<2x?x?x4x32xbf16>, tensor<2x?x?x4x32xbf16>, tensor<3x?x1x1x?xi1>) -> tensor<2x?x?x4x32xbf16>
  return %o : tensor<2x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x?xi1>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects mask to have rank 5 ([B, S, 1, 1, N]) but got rank 4}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x?xi1>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x4x1x?xi1>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects mask dim 2 to be 1 ([B, S, 1, 1, N]) but got 4}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x4x1x?xi1>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x7x4x32xbf16>, %k: tensor<1x?x7x4x32xbf16>, %v: tensor<1x?x7x4x32xbf16>, %m: tensor<1x?x1x1x9xi1>) -> tensor<1x?x7x4x32xbf16> {
  // expected-error @+1 {{expects mask dim 4 (N) to be 7 (as q dim 2) but got 9}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) : (tensor<1x?x7x4x32xbf16>, tensor<1x?x7x4x32xbf16>, tensor<1x?x7x4x32xbf16>, tensor<1x?x1x1x9xi1>) -> tensor<1x?x7x4x32xbf16>
  return %o : tensor<1x?x7x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x1x?xf32>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{operand #3 must be ranked tensor of 1-bit signless integer values}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xf32>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x1x?xi1>, %b: tensor<1x1x4x?x?xf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects bias element type 'bf16' (as q) but got 'f16'}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>, tensor<1x1x4x?x?xf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x1x?xi1>, %b: tensor<1x1x4x?xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects bias to have rank 5 ([B, 1, H, N, N]) but got rank 4}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>, tensor<1x1x4x?xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x1x?xi1>, %b: tensor<1x?x4x?x?xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects bias dim 1 to be 1 ([B, 1, H, N, N]) but got ?}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>, tensor<1x?x4x?x?xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>, %m: tensor<1x?x1x1x?xi1>, %b: tensor<1x1x16x?x?xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects bias dim 2 (H) to be 4 (as q dim 3) but got 16}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>, tensor<1x1x16x?x?xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x5x4x32xbf16>, %k: tensor<1x?x5x4x32xbf16>, %v: tensor<1x?x5x4x32xbf16>, %m: tensor<1x?x1x1x5xi1>, %b: tensor<1x1x4x6x5xbf16>) -> tensor<1x?x5x4x32xbf16> {
  // expected-error @+1 {{expects bias dim 3 (N) to be 5 (as q dim 2) but got 6}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) : (tensor<1x?x5x4x32xbf16>, tensor<1x?x5x4x32xbf16>, tensor<1x?x5x4x32xbf16>, tensor<1x?x1x1x5xi1>, tensor<1x1x4x6x5xbf16>) -> tensor<1x?x5x4x32xbf16>
  return %o : tensor<1x?x5x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x5x4x32xbf16>, %k: tensor<1x?x5x4x32xbf16>, %v: tensor<1x?x5x4x32xbf16>, %m: tensor<1x?x1x1x5xi1>, %b: tensor<1x1x4x5x6xbf16>) -> tensor<1x?x5x4x32xbf16> {
  // expected-error @+1 {{expects bias dim 4 (N) to be 5 (as q dim 2) but got 6}}
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) : (tensor<1x?x5x4x32xbf16>, tensor<1x?x5x4x32xbf16>, tensor<1x?x5x4x32xbf16>, tensor<1x?x1x1x5xi1>, tensor<1x1x4x5x6xbf16>) -> tensor<1x?x5x4x32xbf16>
  return %o : tensor<1x?x5x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects scale to be finite but got INF}}
  %o = evo.pair_bias_attention %q, %k, %v scale(0x7F800000) : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xf32> {
  // expected-error @+1 {{expects result 0 to have type 'tensor<1x?x?x4x32xbf16>' (inferred from the operands) but got 'tensor<1x?x?x4x32xf32>'}}
  %o = evo.pair_bias_attention %q, %k, %v : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xf32>
  return %o : tensor<1x?x?x4x32xf32>
}

// -----

func.func @f(%q: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{expects an f32 logsumexp result [B, S, H, N] exactly when `logsumexp` is set}}
  %o = evo.pair_bias_attention %q, %q, %q logsumexp : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

//===----------------------------------------------------------------------===//
// layernorm, linear, layernorm_linear, swiglu, transition
//===----------------------------------------------------------------------===//

func.func @f(%x: tensor<f32>, %g: tensor<128xf32>, %b: tensor<128xf32>) -> tensor<f32> {
  // expected-error @+1 {{expects x to have rank 1 or more ([..., C]) but got rank 0}}
  %o = evo.layernorm %x, %g, %b : (tensor<f32>, tensor<128xf32>, tensor<128xf32>) -> tensor<f32>
  return %o : tensor<f32>
}

// -----

func.func @f(%x: tensor<?x?xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{expects x dim 1 (C) to be static: heads H, head dim D, channels C and hidden width F must be static (only B, S and N may be dynamic)}}
  %o = evo.layernorm %x, %g, %b : (tensor<?x?xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<?x?xf32>
  return %o : tensor<?x?xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<1x128xf32>, %b: tensor<128xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects gamma to have rank 1 ([C]) but got rank 2}}
  %o = evo.layernorm %x, %g, %b : (tensor<?x128xf32>, tensor<1x128xf32>, tensor<128xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<64xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects beta dim 0 (C) to be 128 (x dim -1) but got 64}}
  %o = evo.layernorm %x, %g, %b : (tensor<?x128xf32>, tensor<128xf32>, tensor<64xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xbf16>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects beta element type 'f32' (as x) but got 'bf16'}}
  %o = evo.layernorm %x, %g, %b : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xbf16>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects eps to be finite and non-negative but got -1.000000e+00}}
  %o = evo.layernorm %x, %g, %b eps(-1.0) : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>) -> tensor<?x129xf32> {
  // expected-error @+1 {{expects result 0 to have type 'tensor<?x128xf32>' (inferred from the operands) but got 'tensor<?x129xf32>'}}
  %o = evo.layernorm %x, %g, %b : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<?x129xf32>
  return %o : tensor<?x129xf32>
}

// -----

func.func @f(%x: tensor<?x?xf32>, %w: tensor<4x128xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects x dim 1 (K) to be static}}
  %o = evo.linear %x, %w : (tensor<?x?xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x2x128xf32>) -> tensor<?x2x4xf32> {
  // expected-error @+1 {{expects weight to have rank 2 ([Nout, K]) but got rank 3}}
  %o = evo.linear %x, %w : (tensor<?x128xf32>, tensor<4x2x128xf32>) -> tensor<?x2x4xf32>
  return %o : tensor<?x2x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<?x128xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{expects weight dim 0 (Nout) to be static}}
  %o = evo.linear %x, %w : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x?xf32>
  return %o : tensor<?x?xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x64xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects weight dim 1 (K) to be 128 (x dim -1) but got 64}}
  %o = evo.linear %x, %w : (tensor<?x128xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x128xf16>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects weight element type 'f32' (as x) but got 'f16'}}
  %o = evo.linear %x, %w : (tensor<?x128xf32>, tensor<4x128xf16>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>, %b: tensor<1x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects bias to have rank 1 ([Nout]) but got rank 2}}
  %o = evo.linear %x, %w bias(%b) : (tensor<?x128xf32>, tensor<4x128xf32>, tensor<1x4xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>, %b: tensor<5xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects bias dim 0 (Nout) to be 4 (weight dim 0) but got 5}}
  %o = evo.linear %x, %w bias(%b) : (tensor<?x128xf32>, tensor<4x128xf32>, tensor<5xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>, %b: tensor<4xbf16>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects bias element type 'f32' (as x) but got 'bf16'}}
  %o = evo.linear %x, %w bias(%b) : (tensor<?x128xf32>, tensor<4x128xf32>, tensor<4xbf16>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>) -> tensor<?x5xf32> {
  // expected-error @+1 {{expects result 0 to have type 'tensor<?x4xf32>' (inferred from the operands) but got 'tensor<?x5xf32>'}}
  %o = evo.linear %x, %w : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x5xf32>
  return %o : tensor<?x5xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<64xf32>, %b: tensor<128xf32>, %w: tensor<4x128xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects gamma dim 0 (C) to be 128 (x dim -1) but got 64}}
  %o = evo.layernorm_linear %x, %g, %b, %w : (tensor<?x128xf32>, tensor<64xf32>, tensor<128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>, %w: tensor<4x127xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects weight dim 1 (K) to be 128 (x dim -1) but got 127}}
  %o = evo.layernorm_linear %x, %g, %b, %w : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<4x127xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>, %w: tensor<4x128xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects eps to be finite and non-negative but got nan}}
  %o = evo.layernorm_linear %x, %g, %b, %w eps(0x7FC00000) : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %w: tensor<4x128xf32>, %b: tensor<8xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{expects bias dim 0 (Nout) to be 4 (weight dim 0) but got 8}}
  %o = evo.layernorm_linear %x, %g, %g, %w bias(%b) : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<4x128xf32>, tensor<8xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// -----

func.func @f(%x: tensor<?x7xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{expects x dim 1 (2F) to be even but got 7}}
  %o = evo.swiglu %x : (tensor<?x7xf32>) -> tensor<?x3xf32>
  return %o : tensor<?x3xf32>
}

// -----

func.func @f(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{expects x dim 1 (2F) to be static}}
  %o = evo.swiglu %x : (tensor<?x?xf32>) -> tensor<?x?xf32>
  return %o : tensor<?x?xf32>
}

// -----

func.func @f(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{expects x to have rank 1 or more ([..., 2F]) but got rank 0}}
  %o = evo.swiglu %x : (tensor<f32>) -> tensor<f32>
  return %o : tensor<f32>
}

// -----

func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{expects result 0 to have type 'tensor<?x4xf32>' (inferred from the operands) but got 'tensor<?x8xf32>'}}
  %o = evo.swiglu %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024xf32>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_up to have rank 2 ([2F, C]) but got rank 1}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<?x128xf32>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_up dim 0 (2F) to be static}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<?x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x64xf32>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_up dim 1 (C) to be 128 (x dim -1) but got 64}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x64xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x128xbf16>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_up element type 'f32' (as x) but got 'bf16'}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xbf16>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x128xf32>, %down: tensor<128x512x1xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_down to have rank 2 ([C, F]) but got rank 3}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<128x512x1xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x128xf32>, %down: tensor<128x?xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_down dim 1 (F) to be static}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<128x?xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x128xf32>, %down: tensor<64x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_down dim 0 (C) to be 128 (x dim -1) but got 64}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<64x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1000x128xf32>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_up dim 0 (2F) to be 1024 (twice w_down dim 1) but got 1000}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1000x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x128xf32>, %down: tensor<128x512xf16>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects w_down element type 'f32' (as x) but got 'f16'}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<128x512xf16>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf16>, %up: tensor<1024x128xf32>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects gamma element type 'f32' (as x) but got 'f16'}}
  %o = evo.transition %x, %g, %g, %up, %down : (tensor<?x128xf32>, tensor<128xf16>, tensor<128xf16>, tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

func.func @f(%x: tensor<?x128xf32>, %g: tensor<128xf32>, %up: tensor<1024x128xf32>, %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{expects eps to be finite and non-negative but got -1.000000e-05}}
  %o = evo.transition %x, %g, %g, %up, %down eps(-1.0e-5) : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}
