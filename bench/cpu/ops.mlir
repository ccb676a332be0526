// The ops the CPU benchmark times (fp32, the CPU's working precision), in
// the PERF.md shapes: triangle attention (S = N, H = 4, D = 32, mask and pair
// bias), LayerNorm -> Linear 128 -> 512 and the Transition (n = 4) over the
// N * N rows of the pair representation.
func.func @triangle_attention(
    %q: tensor<1x?x?x4x32xf32>, %k: tensor<1x?x?x4x32xf32>,
    %v: tensor<1x?x?x4x32xf32>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x4x?x?xf32>) -> tensor<1x?x?x4x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xf32>) -> tensor<1x?x?x4x32xf32>
  return %o : tensor<1x?x?x4x32xf32>
}

func.func @layernorm_linear(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>, %w: tensor<512x128xf32>, %b: tensor<512xf32>)
    -> tensor<?x512xf32> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w bias(%b)
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<512x128xf32>, tensor<512xf32>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

func.func @transition(%x: tensor<?x128xf32>, %gamma: tensor<128xf32>,
    %beta: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> tensor<?x128xf32> {
  %y = evo.transition %x, %gamma, %beta, %up, %down
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
