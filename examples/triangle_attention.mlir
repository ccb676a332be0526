// Triangle attention (AlphaFold2/3): row i of the pair representation attends
// over its own entries (i, k), biased by the pair entries (j, k). S = N, H = 4,
// D = 32. The ending-node variant is the same op on the transposed pair
// tensor: its inputs and output are transposed by the caller.

// Around the starting node: q, k, v, gate [1, N, N, 4, 32].
func.func @triangle_attention_starting(
    %q: tensor<1x?x?x4x32xf32>, %k: tensor<1x?x?x4x32xf32>,
    %v: tensor<1x?x?x4x32xf32>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x4x?x?xf32>, %gate: tensor<1x?x?x4x32xf32>)
    -> tensor<1x?x?x4x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias) gate(%gate)
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xf32>, tensor<1x?x?x4x32xf32>)
      -> tensor<1x?x?x4x32xf32>
  return %o : tensor<1x?x?x4x32xf32>
}

// Around the ending node: the starting-node op on the transposed pair tensor
// (rows and columns swapped), its output transposed back.
func.func @triangle_attention_ending(
    %q: tensor<1x?x?x4x32xf32>, %k: tensor<1x?x?x4x32xf32>,
    %v: tensor<1x?x?x4x32xf32>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x4x?x?xf32>, %gate: tensor<1x?x?x4x32xf32>)
    -> tensor<1x?x?x4x32xf32> {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %q, %c1 : tensor<1x?x?x4x32xf32>
  %e0 = tensor.empty(%n, %n) : tensor<1x?x?x4x32xf32>
  %qt = linalg.transpose ins(%q : tensor<1x?x?x4x32xf32>)
      outs(%e0 : tensor<1x?x?x4x32xf32>) permutation = [0, 2, 1, 3, 4]
  %e1 = tensor.empty(%n, %n) : tensor<1x?x?x4x32xf32>
  %kt = linalg.transpose ins(%k : tensor<1x?x?x4x32xf32>)
      outs(%e1 : tensor<1x?x?x4x32xf32>) permutation = [0, 2, 1, 3, 4]
  %e2 = tensor.empty(%n, %n) : tensor<1x?x?x4x32xf32>
  %vt = linalg.transpose ins(%v : tensor<1x?x?x4x32xf32>)
      outs(%e2 : tensor<1x?x?x4x32xf32>) permutation = [0, 2, 1, 3, 4]
  %e3 = tensor.empty(%n, %n) : tensor<1x?x?x4x32xf32>
  %gt = linalg.transpose ins(%gate : tensor<1x?x?x4x32xf32>)
      outs(%e3 : tensor<1x?x?x4x32xf32>) permutation = [0, 2, 1, 3, 4]
  %o = evo.pair_bias_attention %qt, %kt, %vt mask(%mask) bias(%bias) gate(%gt)
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xf32>, tensor<1x?x?x4x32xf32>)
      -> tensor<1x?x?x4x32xf32>
  %e4 = tensor.empty(%n, %n) : tensor<1x?x?x4x32xf32>
  %ot = linalg.transpose ins(%o : tensor<1x?x?x4x32xf32>)
      outs(%e4 : tensor<1x?x?x4x32xf32>) permutation = [0, 2, 1, 3, 4]
  return %ot : tensor<1x?x?x4x32xf32>
}
