// Single attention with pair bias (AlphaFold3 Pairformer, S = 1): every
// token attends over all tokens, biased by a per-head projection of the pair
// representation. H = 16, D = 24; N dynamic.
func.func @single_attention(
    %q: tensor<1x1x?x16x24xf32>, %k: tensor<1x1x?x16x24xf32>,
    %v: tensor<1x1x?x16x24xf32>, %mask: tensor<1x1x1x1x?xi1>,
    %bias: tensor<1x1x16x?x?xf32>, %gate: tensor<1x1x?x16x24xf32>)
    -> tensor<1x1x?x16x24xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x1x?x16x24xf32>, tensor<1x1x?x16x24xf32>,
         tensor<1x1x?x16x24xf32>, tensor<1x1x1x1x?xi1>,
         tensor<1x1x16x?x?xf32>, tensor<1x1x?x16x24xf32>)
      -> tensor<1x1x?x16x24xf32>
  return %o : tensor<1x1x?x16x24xf32>
}
