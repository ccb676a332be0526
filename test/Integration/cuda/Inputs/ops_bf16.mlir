// Entry points of the CUDA check (bench/gpu/check.py) and benchmark
// (bench/gpu/bench.py), bf16. check.py knows every signature below: change
// both together. B = 1 is static; S (rows) and N (residues) are dynamic.

// Triangle attention around the starting node: H = 4, D = 32, mask, bias
// and gate.
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

// MSA row attention: H = 8, D = 32, mask and bias.
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

// MSA column attention: H = 8, D = 8, no mask, bias or gate.
func.func @attention_plain(%q: tensor<1x?x?x8x8xbf16>,
    %k: tensor<1x?x?x8x8xbf16>, %v: tensor<1x?x?x8x8xbf16>)
    -> tensor<1x?x?x8x8xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v
      : (tensor<1x?x?x8x8xbf16>, tensor<1x?x?x8x8xbf16>,
         tensor<1x?x?x8x8xbf16>) -> tensor<1x?x?x8x8xbf16>
  return %o : tensor<1x?x?x8x8xbf16>
}

// Single attention with pair bias: S = 1, H = 16, D = 24 (padded to 32 on
// chip), mask, bias and gate.
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

// Forward for training: the f32 logsumexp [B, S, H, N] besides the output.
func.func @attention_lse(%q: tensor<1x?x?x4x32xbf16>,
    %k: tensor<1x?x?x4x32xbf16>, %v: tensor<1x?x?x4x32xbf16>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x4x?x?xbf16>)
    -> (tensor<1x?x?x4x32xbf16>, tensor<1x?x4x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      logsumexp
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xbf16>)
      -> (tensor<1x?x?x4x32xbf16>, tensor<1x?x4x?xf32>)
  return %o, %lse : tensor<1x?x?x4x32xbf16>, tensor<1x?x4x?xf32>
}

// Pair stack LayerNorm -> Linear 128 -> 516 (no bias).
func.func @layernorm_linear_516(%x: tensor<1x?x?x128xbf16>,
    %gamma: tensor<128xbf16>, %beta: tensor<128xbf16>,
    %w: tensor<516x128xbf16>) -> tensor<1x?x?x516xbf16> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w eps(1.0e-05)
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<516x128xbf16>) -> tensor<1x?x?x516xbf16>
  return %y : tensor<1x?x?x516xbf16>
}

// The pair bias projection: LayerNorm -> Linear 128 -> 4 with bias.
func.func @layernorm_linear_4(%x: tensor<1x?x?x128xbf16>,
    %gamma: tensor<128xbf16>, %beta: tensor<128xbf16>,
    %w: tensor<4x128xbf16>, %b: tensor<4xbf16>) -> tensor<1x?x?x4xbf16> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w bias(%b) eps(1.0e-05)
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<4x128xbf16>, tensor<4xbf16>) -> tensor<1x?x?x4xbf16>
  return %y : tensor<1x?x?x4xbf16>
}

// AF3's pair transition, n = 4: LayerNorm, 128 -> 1024, SwiGLU, 512 -> 128.
func.func @transition(%x: tensor<1x?x?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>, %w_up: tensor<1024x128xbf16>,
    %w_down: tensor<128x512xbf16>) -> tensor<1x?x?x128xbf16> {
  %y = evo.transition %x, %gamma, %beta, %w_up, %w_down eps(1.0e-05)
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<1024x128xbf16>, tensor<128x512xbf16>)
      -> tensor<1x?x?x128xbf16>
  return %y : tensor<1x?x?x128xbf16>
}
