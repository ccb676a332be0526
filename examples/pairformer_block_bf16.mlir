// The Pairformer block of pairformer_block.mlir in bf16, the precision
// AlphaFold3 trains in. On the GPU targets the triangle and single
// attention, the fused layernorm+linear of the pair bias, the pair linears
// (c = 128) and the pair transition run on the tensor-core kernels (mma.sync,
// MFMA or WMMA); the single track's linears (c = 384, over the GEMM kernels'
// 256-channel limit), the lone layernorms, transposes and residual adds take
// the generic path (mf-linalg-to-gpu). The CPU target runs all of it.

// The update of triangle attention around the starting node.
func.func private @triangle_attention(
    %z: tensor<1x?x?x128xbf16>, %pair_mask: tensor<1x?x?xi1>,
    %gamma: tensor<128xbf16>, %beta: tensor<128xbf16>,
    %wq: tensor<128x128xbf16>, %wk: tensor<128x128xbf16>,
    %wv: tensor<128x128xbf16>, %wg: tensor<128x128xbf16>,
    %wb: tensor<4x128xbf16>, %wo: tensor<128x128xbf16>)
    -> tensor<1x?x?x128xbf16> {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %z, %c1 : tensor<1x?x?x128xbf16>
  %zn = evo.layernorm %z, %gamma, %beta
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>)
      -> tensor<1x?x?x128xbf16>
  %q2 = evo.linear %zn, %wq
      : (tensor<1x?x?x128xbf16>, tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  %k2 = evo.linear %zn, %wk
      : (tensor<1x?x?x128xbf16>, tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  %v2 = evo.linear %zn, %wv
      : (tensor<1x?x?x128xbf16>, tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  %g2 = evo.linear %zn, %wg
      : (tensor<1x?x?x128xbf16>, tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  %q = tensor.expand_shape %q2 [[0], [1], [2], [3, 4]]
      output_shape [1, %n, %n, 4, 32]
      : tensor<1x?x?x128xbf16> into tensor<1x?x?x4x32xbf16>
  %k = tensor.expand_shape %k2 [[0], [1], [2], [3, 4]]
      output_shape [1, %n, %n, 4, 32]
      : tensor<1x?x?x128xbf16> into tensor<1x?x?x4x32xbf16>
  %v = tensor.expand_shape %v2 [[0], [1], [2], [3, 4]]
      output_shape [1, %n, %n, 4, 32]
      : tensor<1x?x?x128xbf16> into tensor<1x?x?x4x32xbf16>
  %g = tensor.expand_shape %g2 [[0], [1], [2], [3, 4]]
      output_shape [1, %n, %n, 4, 32]
      : tensor<1x?x?x128xbf16> into tensor<1x?x?x4x32xbf16>
  // bias[0, 0, h, j, k] = (zn[0, j, k] . wb[h]).
  %b2 = evo.linear %zn, %wb
      : (tensor<1x?x?x128xbf16>, tensor<4x128xbf16>) -> tensor<1x?x?x4xbf16>
  %be = tensor.empty(%n, %n) : tensor<1x4x?x?xbf16>
  %bt = linalg.transpose ins(%b2 : tensor<1x?x?x4xbf16>)
      outs(%be : tensor<1x4x?x?xbf16>) permutation = [0, 3, 1, 2]
  %bias = tensor.expand_shape %bt [[0, 1], [2], [3], [4]]
      output_shape [1, 1, 4, %n, %n]
      : tensor<1x4x?x?xbf16> into tensor<1x1x4x?x?xbf16>
  %mask = tensor.expand_shape %pair_mask [[0], [1, 2, 3], [4]]
      output_shape [1, %n, 1, 1, %n]
      : tensor<1x?x?xi1> into tensor<1x?x1x1x?xi1>
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%g)
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xbf16>, tensor<1x?x?x4x32xbf16>)
      -> tensor<1x?x?x4x32xbf16>
  %o2 = tensor.collapse_shape %o [[0], [1], [2], [3, 4]]
      : tensor<1x?x?x4x32xbf16> into tensor<1x?x?x128xbf16>
  %out = evo.linear %o2, %wo
      : (tensor<1x?x?x128xbf16>, tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  return %out : tensor<1x?x?x128xbf16>
}

func.func @pairformer_block(
    %s: tensor<1x?x384xbf16>, %z: tensor<1x?x?x128xbf16>,
    %token_mask: tensor<1x?xi1>, %pair_mask: tensor<1x?x?xi1>,
    // Triangle attention, starting node.
    %ts_gamma: tensor<128xbf16>, %ts_beta: tensor<128xbf16>,
    %ts_wq: tensor<128x128xbf16>, %ts_wk: tensor<128x128xbf16>,
    %ts_wv: tensor<128x128xbf16>, %ts_wg: tensor<128x128xbf16>,
    %ts_wb: tensor<4x128xbf16>, %ts_wo: tensor<128x128xbf16>,
    // Triangle attention, ending node.
    %te_gamma: tensor<128xbf16>, %te_beta: tensor<128xbf16>,
    %te_wq: tensor<128x128xbf16>, %te_wk: tensor<128x128xbf16>,
    %te_wv: tensor<128x128xbf16>, %te_wg: tensor<128x128xbf16>,
    %te_wb: tensor<4x128xbf16>, %te_wo: tensor<128x128xbf16>,
    // Pair transition.
    %pt_gamma: tensor<128xbf16>, %pt_beta: tensor<128xbf16>,
    %pt_up: tensor<1024x128xbf16>, %pt_down: tensor<128x512xbf16>,
    // Single attention with pair bias.
    %sa_gamma: tensor<384xbf16>, %sa_beta: tensor<384xbf16>,
    %sa_wq: tensor<384x384xbf16>, %sa_wk: tensor<384x384xbf16>,
    %sa_wv: tensor<384x384xbf16>, %sa_wg: tensor<384x384xbf16>,
    %sa_zgamma: tensor<128xbf16>, %sa_zbeta: tensor<128xbf16>,
    %sa_wb: tensor<16x128xbf16>, %sa_wo: tensor<384x384xbf16>,
    // Single transition.
    %st_gamma: tensor<384xbf16>, %st_beta: tensor<384xbf16>,
    %st_up: tensor<3072x384xbf16>, %st_down: tensor<384x1536xbf16>)
    -> (tensor<1x?x384xbf16>, tensor<1x?x?x128xbf16>) {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %z, %c1 : tensor<1x?x?x128xbf16>

  // Triangle attention around the starting node.
  %u1 = func.call @triangle_attention(%z, %pair_mask, %ts_gamma, %ts_beta,
      %ts_wq, %ts_wk, %ts_wv, %ts_wg, %ts_wb, %ts_wo)
      : (tensor<1x?x?x128xbf16>, tensor<1x?x?xi1>, tensor<128xbf16>,
         tensor<128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>,
         tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>,
         tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  %z1 = arith.addf %z, %u1 : tensor<1x?x?x128xbf16>

  // Triangle attention around the ending node: the same on z transposed.
  %zte = tensor.empty(%n, %n) : tensor<1x?x?x128xbf16>
  %zt = linalg.transpose ins(%z1 : tensor<1x?x?x128xbf16>)
      outs(%zte : tensor<1x?x?x128xbf16>) permutation = [0, 2, 1, 3]
  %mte = tensor.empty(%n, %n) : tensor<1x?x?xi1>
  %mt = linalg.transpose ins(%pair_mask : tensor<1x?x?xi1>)
      outs(%mte : tensor<1x?x?xi1>) permutation = [0, 2, 1]
  %u2t = func.call @triangle_attention(%zt, %mt, %te_gamma, %te_beta,
      %te_wq, %te_wk, %te_wv, %te_wg, %te_wb, %te_wo)
      : (tensor<1x?x?x128xbf16>, tensor<1x?x?xi1>, tensor<128xbf16>,
         tensor<128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>,
         tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>,
         tensor<128x128xbf16>) -> tensor<1x?x?x128xbf16>
  %ue = tensor.empty(%n, %n) : tensor<1x?x?x128xbf16>
  %u2 = linalg.transpose ins(%u2t : tensor<1x?x?x128xbf16>)
      outs(%ue : tensor<1x?x?x128xbf16>) permutation = [0, 2, 1, 3]
  %z2 = arith.addf %z1, %u2 : tensor<1x?x?x128xbf16>

  // Pair transition (fuses into evo.transition).
  %pn = evo.layernorm %z2, %pt_gamma, %pt_beta
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>)
      -> tensor<1x?x?x128xbf16>
  %ph = evo.linear %pn, %pt_up
      : (tensor<1x?x?x128xbf16>, tensor<1024x128xbf16>) -> tensor<1x?x?x1024xbf16>
  %pa = evo.swiglu %ph : (tensor<1x?x?x1024xbf16>) -> tensor<1x?x?x512xbf16>
  %pd = evo.linear %pa, %pt_down
      : (tensor<1x?x?x512xbf16>, tensor<128x512xbf16>) -> tensor<1x?x?x128xbf16>
  %z3 = arith.addf %z2, %pd : tensor<1x?x?x128xbf16>

  // Single attention with pair bias.
  %sn = evo.layernorm %s, %sa_gamma, %sa_beta
      : (tensor<1x?x384xbf16>, tensor<384xbf16>, tensor<384xbf16>)
      -> tensor<1x?x384xbf16>
  %sq2 = evo.linear %sn, %sa_wq
      : (tensor<1x?x384xbf16>, tensor<384x384xbf16>) -> tensor<1x?x384xbf16>
  %sk2 = evo.linear %sn, %sa_wk
      : (tensor<1x?x384xbf16>, tensor<384x384xbf16>) -> tensor<1x?x384xbf16>
  %sv2 = evo.linear %sn, %sa_wv
      : (tensor<1x?x384xbf16>, tensor<384x384xbf16>) -> tensor<1x?x384xbf16>
  %sg2 = evo.linear %sn, %sa_wg
      : (tensor<1x?x384xbf16>, tensor<384x384xbf16>) -> tensor<1x?x384xbf16>
  %sq = tensor.expand_shape %sq2 [[0, 1], [2], [3, 4]]
      output_shape [1, 1, %n, 16, 24]
      : tensor<1x?x384xbf16> into tensor<1x1x?x16x24xbf16>
  %sk = tensor.expand_shape %sk2 [[0, 1], [2], [3, 4]]
      output_shape [1, 1, %n, 16, 24]
      : tensor<1x?x384xbf16> into tensor<1x1x?x16x24xbf16>
  %sv = tensor.expand_shape %sv2 [[0, 1], [2], [3, 4]]
      output_shape [1, 1, %n, 16, 24]
      : tensor<1x?x384xbf16> into tensor<1x1x?x16x24xbf16>
  %sg = tensor.expand_shape %sg2 [[0, 1], [2], [3, 4]]
      output_shape [1, 1, %n, 16, 24]
      : tensor<1x?x384xbf16> into tensor<1x1x?x16x24xbf16>
  // The pair bias: layernorm then linear (fuses into layernorm_linear).
  %zb = evo.layernorm %z3, %sa_zgamma, %sa_zbeta
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>)
      -> tensor<1x?x?x128xbf16>
  %b2 = evo.linear %zb, %sa_wb
      : (tensor<1x?x?x128xbf16>, tensor<16x128xbf16>) -> tensor<1x?x?x16xbf16>
  %be = tensor.empty(%n, %n) : tensor<1x16x?x?xbf16>
  %bt = linalg.transpose ins(%b2 : tensor<1x?x?x16xbf16>)
      outs(%be : tensor<1x16x?x?xbf16>) permutation = [0, 3, 1, 2]
  %bias = tensor.expand_shape %bt [[0, 1], [2], [3], [4]]
      output_shape [1, 1, 16, %n, %n]
      : tensor<1x16x?x?xbf16> into tensor<1x1x16x?x?xbf16>
  %smask = tensor.expand_shape %token_mask [[0, 1, 2, 3], [4]]
      output_shape [1, 1, 1, 1, %n]
      : tensor<1x?xi1> into tensor<1x1x1x1x?xi1>
  %so = evo.pair_bias_attention %sq, %sk, %sv mask(%smask) bias(%bias)
      gate(%sg)
      : (tensor<1x1x?x16x24xbf16>, tensor<1x1x?x16x24xbf16>,
         tensor<1x1x?x16x24xbf16>, tensor<1x1x1x1x?xi1>,
         tensor<1x1x16x?x?xbf16>, tensor<1x1x?x16x24xbf16>)
      -> tensor<1x1x?x16x24xbf16>
  %so2 = tensor.collapse_shape %so [[0, 1], [2], [3, 4]]
      : tensor<1x1x?x16x24xbf16> into tensor<1x?x384xbf16>
  %sout = evo.linear %so2, %sa_wo
      : (tensor<1x?x384xbf16>, tensor<384x384xbf16>) -> tensor<1x?x384xbf16>
  %s1 = arith.addf %s, %sout : tensor<1x?x384xbf16>

  // Single transition (fuses into evo.transition).
  %tn = evo.layernorm %s1, %st_gamma, %st_beta
      : (tensor<1x?x384xbf16>, tensor<384xbf16>, tensor<384xbf16>)
      -> tensor<1x?x384xbf16>
  %th = evo.linear %tn, %st_up
      : (tensor<1x?x384xbf16>, tensor<3072x384xbf16>) -> tensor<1x?x3072xbf16>
  %ta = evo.swiglu %th : (tensor<1x?x3072xbf16>) -> tensor<1x?x1536xbf16>
  %td = evo.linear %ta, %st_down
      : (tensor<1x?x1536xbf16>, tensor<384x1536xbf16>) -> tensor<1x?x384xbf16>
  %s2 = arith.addf %s1, %td : tensor<1x?x384xbf16>

  return %s2, %z3 : tensor<1x?x384xbf16>, tensor<1x?x?x128xbf16>
}
