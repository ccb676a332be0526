// MSA column attention (AlphaFold2 Evoformer): for each residue, the
// sequences attend over each other. Rows are residues and keys are sequences:
// q, k, v [1, N_res, N_seq, 8, 8]; no pair bias.
func.func @msa_column_attention(
    %q: tensor<1x?x?x8x8xf32>, %k: tensor<1x?x?x8x8xf32>,
    %v: tensor<1x?x?x8x8xf32>, %mask: tensor<1x?x1x1x?xi1>,
    %gate: tensor<1x?x?x8x8xf32>) -> tensor<1x?x?x8x8xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) gate(%gate)
      : (tensor<1x?x?x8x8xf32>, tensor<1x?x?x8x8xf32>, tensor<1x?x?x8x8xf32>,
         tensor<1x?x1x1x?xi1>, tensor<1x?x?x8x8xf32>)
      -> tensor<1x?x?x8x8xf32>
  return %o : tensor<1x?x?x8x8xf32>
}
