// With the generic path off, what the tensor-core kernels cannot run is an
// error that names the op and the reason.
// RUN: mf-opt %s --convert-evo-to-gpu=generic=false --split-input-file --verify-diagnostics

// f32 attention has no tensor-core kernel.
func.func @attention_f32(%q: tensor<1x?x?x4x32xf32>) -> tensor<1x?x?x4x32xf32> {
  // expected-error @+1 {{'evo.pair_bias_attention' op cannot run on the cuda target: the tensor-core attention kernel takes bf16 or f16 operands}}
  %o = evo.pair_bias_attention %q, %q, %q
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>) -> tensor<1x?x?x4x32xf32>
  return %o : tensor<1x?x?x4x32xf32>
}

// -----

func.func @attention_head_dim(%q: tensor<1x?x?x4x12xbf16>) -> tensor<1x?x?x4x12xbf16> {
  // expected-error @+1 {{needs a head dim that is a multiple of 8, at most 128}}
  %o = evo.pair_bias_attention %q, %q, %q
      : (tensor<1x?x?x4x12xbf16>, tensor<1x?x?x4x12xbf16>,
         tensor<1x?x?x4x12xbf16>) -> tensor<1x?x?x4x12xbf16>
  return %o : tensor<1x?x?x4x12xbf16>
}

// -----

// An unfused swiglu has no kernel of its own.
func.func @swiglu(%x: tensor<?x8xbf16>) -> tensor<?x4xbf16> {
  // expected-error @+1 {{'evo.swiglu' op cannot run on the cuda target: it has no tensor-core kernel}}
  %y = evo.swiglu %x : (tensor<?x8xbf16>) -> tensor<?x4xbf16>
  return %y : tensor<?x4xbf16>
}

// -----

func.func @linear_channels(%x: tensor<?x24xbf16>, %w: tensor<8x24xbf16>) -> tensor<?x8xbf16> {
  // expected-error @+1 {{need input channels that are a multiple of 16, at most 384}}
  %y = evo.linear %x, %w : (tensor<?x24xbf16>, tensor<8x24xbf16>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// Host code only moves tensors between kernels.
func.func @host_math(%x: tensor<?x16xbf16>, %w: tensor<8x16xbf16>) -> tensor<?x8xbf16> {
  %y = evo.linear %x, %w : (tensor<?x16xbf16>, tensor<8x16xbf16>) -> tensor<?x8xbf16>
  // expected-error @+1 {{'arith.addf' op on tensors is not supported by the cuda target with generic=false}}
  %z = arith.addf %y, %y : tensor<?x8xbf16>
  return %z : tensor<?x8xbf16>
}
