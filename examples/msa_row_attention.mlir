// MSA row attention with pair bias (AlphaFold2 Evoformer, AlphaFold3 MSA
// module): each of S = N_seq sequences attends over its residues, biased by
// the pair representation shared by all rows. H = 8, D = 32.
func.func @msa_row_attention(
    %q: tensor<1x?x?x8x32xf32>, %k: tensor<1x?x?x8x32xf32>,
    %v: tensor<1x?x?x8x32xf32>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x8x?x?xf32>, %gate: tensor<1x?x?x8x32xf32>)
    -> tensor<1x?x?x8x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x?x?x8x32xf32>, tensor<1x?x?x8x32xf32>,
         tensor<1x?x?x8x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x8x?x?xf32>, tensor<1x?x?x8x32xf32>)
      -> tensor<1x?x?x8x32xf32>
  return %o : tensor<1x?x?x8x32xf32>
}
