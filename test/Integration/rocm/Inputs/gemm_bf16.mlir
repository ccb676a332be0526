// The row-block GEMM entries of the CUDA check (test/Integration/cuda/Inputs/
// ops_bf16.mlir), for the rocm target: its MFMA kernels cover these so far.

func.func @layernorm_linear_516(%x: tensor<1x?x?x128xbf16>,
    %gamma: tensor<128xbf16>, %beta: tensor<128xbf16>,
    %w: tensor<516x128xbf16>) -> tensor<1x?x?x516xbf16> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w eps(1.0e-05)
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<516x128xbf16>) -> tensor<1x?x?x516xbf16>
  return %y : tensor<1x?x?x516xbf16>
}

func.func @layernorm_linear_4(%x: tensor<1x?x?x128xbf16>,
    %gamma: tensor<128xbf16>, %beta: tensor<128xbf16>,
    %w: tensor<4x128xbf16>, %b: tensor<4xbf16>) -> tensor<1x?x?x4xbf16> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w bias(%b) eps(1.0e-05)
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<4x128xbf16>, tensor<4xbf16>) -> tensor<1x?x?x4xbf16>
  return %y : tensor<1x?x?x4xbf16>
}

func.func @transition(%x: tensor<1x?x?x128xbf16>, %gamma: tensor<128xbf16>,
    %beta: tensor<128xbf16>, %w_up: tensor<1024x128xbf16>,
    %w_down: tensor<128x512xbf16>) -> tensor<1x?x?x128xbf16> {
  %y = evo.transition %x, %gamma, %beta, %w_up, %w_down eps(1.0e-05)
      : (tensor<1x?x?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<1024x128xbf16>, tensor<128x512xbf16>)
      -> tensor<1x?x?x128xbf16>
  return %y : tensor<1x?x?x128xbf16>
}
