// Entry points of the CPU numerics test (numerics.cpp), element type bf16.
// The same module as ops_f32.mlir in bf16 (the logsumexp result stays f32).
// Every public function becomes an entry of the artifact; its arguments keep
// the SSA names written here and its results are named result0, result1, ...
// numerics.cpp knows every signature below: change both together.
//
// B = 1 is static; S (rows) and N (residues / keys / tokens) are dynamic.

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

// Triangle attention around the starting node (S = N), H = 4, D = 32:
// mask, bias and gate.
func.func @attention_full(%q: tensor<1x?x?x4x32xbf16>,
    %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x4x?x?xbf16>,
    %gate: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xbf16>, tensor<1x?x?x4x32xbf16>)
      -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// MSA row attention shape (S = N_seq separate from N), H = 8, D = 32:
// mask and bias, no gate.
func.func @attention_nogate(%q: tensor<1x?x?x8x32xbf16>,
    %k: tensor<1x?x?x8x32xbf16>, %v: tensor<1x?x?x8x32xbf16>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x8x?x?xbf16>)
    -> tensor<1x?x?x8x32xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      : (tensor<1x?x?x8x32xbf16>, tensor<1x?x?x8x32xbf16>,
         tensor<1x?x?x8x32xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x8x?x?xbf16>) -> tensor<1x?x?x8x32xbf16>
  return %o : tensor<1x?x?x8x32xbf16>
}

// MSA column attention shape (rows = residues, keys = sequences), H = 8,
// D = 8: no mask, bias or gate.
func.func @attention_plain(%q: tensor<1x?x?x8x8xbf16>,
    %k: tensor<1x?x?x8x8xbf16>, %v: tensor<1x?x?x8x8xbf16>)
    -> tensor<1x?x?x8x8xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v
      : (tensor<1x?x?x8x8xbf16>, tensor<1x?x?x8x8xbf16>,
         tensor<1x?x?x8x8xbf16>) -> tensor<1x?x?x8x8xbf16>
  return %o : tensor<1x?x?x8x8xbf16>
}

// Single attention with pair bias (S = 1 static), H = 16, D = 24: mask,
// bias and gate.
func.func @attention_single(%q: tensor<1x1x?x16x24xbf16>,
    %k: tensor<1x1x?x16x24xbf16>, %v: tensor<1x1x?x16x24xbf16>,
    %mask: tensor<1x1x1x1x?xi1>, %bias: tensor<1x1x16x?x?xbf16>,
    %gate: tensor<1x1x?x16x24xbf16>) -> tensor<1x1x?x16x24xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x1x?x16x24xbf16>, tensor<1x1x?x16x24xbf16>,
         tensor<1x1x?x16x24xbf16>, tensor<1x1x1x1x?xi1>,
         tensor<1x1x16x?x?xbf16>, tensor<1x1x?x16x24xbf16>)
      -> tensor<1x1x?x16x24xbf16>
  return %o : tensor<1x1x?x16x24xbf16>
}

// An explicit scale and the logsumexp result (f32 [B, S, H, N]), H = 2,
// D = 16: mask, bias and gate (the gate does not touch the logsumexp).
func.func @attention_lse(%q: tensor<1x?x?x2x16xbf16>,
    %k: tensor<1x?x?x2x16xbf16>, %v: tensor<1x?x?x2x16xbf16>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x2x?x?xbf16>,
    %gate: tensor<1x?x?x2x16xbf16>)
    -> (tensor<1x?x?x2x16xbf16>, tensor<1x?x2x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      gate(%gate) scale(0.3) logsumexp
      : (tensor<1x?x?x2x16xbf16>, tensor<1x?x?x2x16xbf16>,
         tensor<1x?x?x2x16xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x2x?x?xbf16>, tensor<1x?x?x2x16xbf16>)
      -> (tensor<1x?x?x2x16xbf16>, tensor<1x?x2x?xf32>)
  return %o, %lse : tensor<1x?x?x2x16xbf16>, tensor<1x?x2x?xf32>
}

// The bias alone (no mask, no gate), H = 2, D = 64.
func.func @attention_bias_only(%q: tensor<1x?x?x2x64xbf16>,
    %k: tensor<1x?x?x2x64xbf16>, %v: tensor<1x?x?x2x64xbf16>,
    %bias: tensor<1x1x2x?x?xbf16>) -> tensor<1x?x?x2x64xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v bias(%bias)
      : (tensor<1x?x?x2x64xbf16>, tensor<1x?x?x2x64xbf16>,
         tensor<1x?x?x2x64xbf16>, tensor<1x1x2x?x?xbf16>)
      -> tensor<1x?x?x2x64xbf16>
  return %o : tensor<1x?x?x2x64xbf16>
}

//===----------------------------------------------------------------------===//
// Layer norm, linear, SwiGLU, transition
//===----------------------------------------------------------------------===//

// Default eps (1e-5).
func.func @layernorm(%x: tensor<?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>) -> tensor<?x128xbf16> {
  %y = evo.layernorm %x, %gamma, %beta
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>)
      -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}

func.func @linear(%x: tensor<?x128xbf16>, %w: tensor<516x128xbf16>,
    %b: tensor<516xbf16>) -> tensor<?x516xbf16> {
  %y = evo.linear %x, %w bias(%b)
      : (tensor<?x128xbf16>, tensor<516x128xbf16>, tensor<516xbf16>)
      -> tensor<?x516xbf16>
  return %y : tensor<?x516xbf16>
}

func.func @linear_nobias(%x: tensor<?x128xbf16>, %w: tensor<4x128xbf16>)
    -> tensor<?x4xbf16> {
  %y = evo.linear %x, %w
      : (tensor<?x128xbf16>, tensor<4x128xbf16>) -> tensor<?x4xbf16>
  return %y : tensor<?x4xbf16>
}

// eps(1e-3) here and in ln_linear_unfused: fusion must carry a non-default
// eps over (the test tells 1e-3 from 1e-5 in f32).
func.func @layernorm_linear(%x: tensor<?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>, %w: tensor<132x128xbf16>, %b: tensor<132xbf16>)
    -> tensor<?x132xbf16> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w bias(%b) eps(1.0e-3)
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<132x128xbf16>, tensor<132xbf16>) -> tensor<?x132xbf16>
  return %y : tensor<?x132xbf16>
}

// layernorm_linear written unfused (fused by default, not with --no-fusion).
func.func @ln_linear_unfused(%x: tensor<?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>, %w: tensor<132x128xbf16>, %b: tensor<132xbf16>)
    -> tensor<?x132xbf16> {
  %n = evo.layernorm %x, %gamma, %beta eps(1.0e-3)
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>)
      -> tensor<?x128xbf16>
  %y = evo.linear %n, %w bias(%b)
      : (tensor<?x128xbf16>, tensor<132x128xbf16>, tensor<132xbf16>)
      -> tensor<?x132xbf16>
  return %y : tensor<?x132xbf16>
}

func.func @swiglu(%x: tensor<?x1024xbf16>) -> tensor<?x512xbf16> {
  %y = evo.swiglu %x : (tensor<?x1024xbf16>) -> tensor<?x512xbf16>
  return %y : tensor<?x512xbf16>
}

// AF3's transition, C = 128, n = 4 (F = 512), eps(1e-3) as in the unfused
// form below.
func.func @transition(%x: tensor<?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>, %w_up: tensor<1024x128xbf16>,
    %w_down: tensor<128x512xbf16>) -> tensor<?x128xbf16> {
  %y = evo.transition %x, %gamma, %beta, %w_up, %w_down eps(1.0e-3)
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<1024x128xbf16>, tensor<128x512xbf16>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}

// The transition written unfused (fused by default, not with --no-fusion).
func.func @transition_unfused(%x: tensor<?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>, %w_up: tensor<1024x128xbf16>,
    %w_down: tensor<128x512xbf16>) -> tensor<?x128xbf16> {
  %n = evo.layernorm %x, %gamma, %beta eps(1.0e-3)
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>)
      -> tensor<?x128xbf16>
  %h = evo.linear %n, %w_up
      : (tensor<?x128xbf16>, tensor<1024x128xbf16>) -> tensor<?x1024xbf16>
  %a = evo.swiglu %h : (tensor<?x1024xbf16>) -> tensor<?x512xbf16>
  %y = evo.linear %a, %w_down
      : (tensor<?x512xbf16>, tensor<128x512xbf16>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
