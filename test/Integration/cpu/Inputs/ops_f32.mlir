// Entry points of the CPU numerics test (numerics.cpp), element type f32.
// ops_bf16.mlir is the same module in bf16 (the logsumexp result stays f32).
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
func.func @attention_full(%q: tensor<1x?x?x4x32xf32>,
    %k: tensor<1x?x?x4x32xf32>, %v: tensor<1x?x?x4x32xf32>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x4x?x?xf32>,
    %gate: tensor<1x?x?x4x32xf32>) -> tensor<1x?x?x4x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xf32>, tensor<1x?x?x4x32xf32>)
      -> tensor<1x?x?x4x32xf32>
  return %o : tensor<1x?x?x4x32xf32>
}

// MSA row attention shape (S = N_seq separate from N), H = 8, D = 32:
// mask and bias, no gate.
func.func @attention_nogate(%q: tensor<1x?x?x8x32xf32>,
    %k: tensor<1x?x?x8x32xf32>, %v: tensor<1x?x?x8x32xf32>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x8x?x?xf32>)
    -> tensor<1x?x?x8x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      : (tensor<1x?x?x8x32xf32>, tensor<1x?x?x8x32xf32>,
         tensor<1x?x?x8x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x8x?x?xf32>) -> tensor<1x?x?x8x32xf32>
  return %o : tensor<1x?x?x8x32xf32>
}

// MSA column attention shape (rows = residues, keys = sequences), H = 8,
// D = 8: no mask, bias or gate.
func.func @attention_plain(%q: tensor<1x?x?x8x8xf32>,
    %k: tensor<1x?x?x8x8xf32>, %v: tensor<1x?x?x8x8xf32>)
    -> tensor<1x?x?x8x8xf32> {
  %o = evo.pair_bias_attention %q, %k, %v
      : (tensor<1x?x?x8x8xf32>, tensor<1x?x?x8x8xf32>,
         tensor<1x?x?x8x8xf32>) -> tensor<1x?x?x8x8xf32>
  return %o : tensor<1x?x?x8x8xf32>
}

// Single attention with pair bias (S = 1 static), H = 16, D = 24: mask,
// bias and gate.
func.func @attention_single(%q: tensor<1x1x?x16x24xf32>,
    %k: tensor<1x1x?x16x24xf32>, %v: tensor<1x1x?x16x24xf32>,
    %mask: tensor<1x1x1x1x?xi1>, %bias: tensor<1x1x16x?x?xf32>,
    %gate: tensor<1x1x?x16x24xf32>) -> tensor<1x1x?x16x24xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x1x?x16x24xf32>, tensor<1x1x?x16x24xf32>,
         tensor<1x1x?x16x24xf32>, tensor<1x1x1x1x?xi1>,
         tensor<1x1x16x?x?xf32>, tensor<1x1x?x16x24xf32>)
      -> tensor<1x1x?x16x24xf32>
  return %o : tensor<1x1x?x16x24xf32>
}

// An explicit scale and the logsumexp result (f32 [B, S, H, N]), H = 2,
// D = 16: mask, bias and gate (the gate does not touch the logsumexp).
func.func @attention_lse(%q: tensor<1x?x?x2x16xf32>,
    %k: tensor<1x?x?x2x16xf32>, %v: tensor<1x?x?x2x16xf32>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x2x?x?xf32>,
    %gate: tensor<1x?x?x2x16xf32>)
    -> (tensor<1x?x?x2x16xf32>, tensor<1x?x2x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      gate(%gate) scale(0.3) logsumexp
      : (tensor<1x?x?x2x16xf32>, tensor<1x?x?x2x16xf32>,
         tensor<1x?x?x2x16xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x2x?x?xf32>, tensor<1x?x?x2x16xf32>)
      -> (tensor<1x?x?x2x16xf32>, tensor<1x?x2x?xf32>)
  return %o, %lse : tensor<1x?x?x2x16xf32>, tensor<1x?x2x?xf32>
}

// The bias alone (no mask, no gate), H = 2, D = 64.
func.func @attention_bias_only(%q: tensor<1x?x?x2x64xf32>,
    %k: tensor<1x?x?x2x64xf32>, %v: tensor<1x?x?x2x64xf32>,
    %bias: tensor<1x1x2x?x?xf32>) -> tensor<1x?x?x2x64xf32> {
  %o = evo.pair_bias_attention %q, %k, %v bias(%bias)
      : (tensor<1x?x?x2x64xf32>, tensor<1x?x?x2x64xf32>,
         tensor<1x?x?x2x64xf32>, tensor<1x1x2x?x?xf32>)
      -> tensor<1x?x?x2x64xf32>
  return %o : tensor<1x?x?x2x64xf32>
}

//===----------------------------------------------------------------------===//
// Layer norm, linear, SwiGLU, transition
//===----------------------------------------------------------------------===//

// Default eps (1e-5).
func.func @layernorm(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>) -> tensor<?x128xf32> {
  %y = evo.layernorm %x, %gamma, %beta
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

func.func @linear(%x: tensor<?x128xf32>, %w: tensor<516x128xf32>,
    %b: tensor<516xf32>) -> tensor<?x516xf32> {
  %y = evo.linear %x, %w bias(%b)
      : (tensor<?x128xf32>, tensor<516x128xf32>, tensor<516xf32>)
      -> tensor<?x516xf32>
  return %y : tensor<?x516xf32>
}

func.func @linear_nobias(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>)
    -> tensor<?x4xf32> {
  %y = evo.linear %x, %w
      : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// eps(1e-3) here and in ln_linear_unfused: fusion must carry a non-default
// eps over (the test tells 1e-3 from 1e-5 in f32).
func.func @layernorm_linear(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>, %w: tensor<132x128xf32>, %b: tensor<132xf32>)
    -> tensor<?x132xf32> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w bias(%b) eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<132x128xf32>, tensor<132xf32>) -> tensor<?x132xf32>
  return %y : tensor<?x132xf32>
}

// layernorm_linear written unfused (fused by default, not with --no-fusion).
func.func @ln_linear_unfused(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>, %w: tensor<132x128xf32>, %b: tensor<132xf32>)
    -> tensor<?x132xf32> {
  %n = evo.layernorm %x, %gamma, %beta eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %y = evo.linear %n, %w bias(%b)
      : (tensor<?x128xf32>, tensor<132x128xf32>, tensor<132xf32>)
      -> tensor<?x132xf32>
  return %y : tensor<?x132xf32>
}

func.func @swiglu(%x: tensor<?x1024xf32>) -> tensor<?x512xf32> {
  %y = evo.swiglu %x : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

// AF3's transition, C = 128, n = 4 (F = 512), eps(1e-3) as in the unfused
// form below.
func.func @transition(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>, %w_up: tensor<1024x128xf32>,
    %w_down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %y = evo.transition %x, %gamma, %beta, %w_up, %w_down eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// The transition written unfused (fused by default, not with --no-fusion).
func.func @transition_unfused(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>, %w_up: tensor<1024x128xf32>,
    %w_down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %n = evo.layernorm %x, %gamma, %beta eps(1.0e-3)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %h = evo.linear %n, %w_up
      : (tensor<?x128xf32>, tensor<1024x128xf32>) -> tensor<?x1024xf32>
  %a = evo.swiglu %h : (tensor<?x1024xf32>) -> tensor<?x512xf32>
  %y = evo.linear %a, %w_down
      : (tensor<?x512xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
