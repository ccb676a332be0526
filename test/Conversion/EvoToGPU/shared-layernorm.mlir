// RUN: mf-opt %s --convert-evo-to-gpu --split-input-file | FileCheck %s

// A layernorm feeding only linears that the tensor cores run: each linear
// becomes a layernorm_linear kernel on x (the normalization recomputed in
// its prologue), and the layernorm goes.
// CHECK-LABEL: func.func @projections(
//   CHECK-NOT:   evo.layernorm
//       CHECK:   gpu.launch_func @mf_kernels::@projections_layernorm_linear_0
//       CHECK:   gpu.launch_func @mf_kernels::@projections_layernorm_linear_1
//   CHECK-NOT:   evo.
func.func @projections(%x: tensor<?x128xbf16>, %g: tensor<128xbf16>,
                       %b: tensor<128xbf16>, %wq: tensor<128x128xbf16>,
                       %wb: tensor<4x128xbf16>)
    -> (tensor<?x128xbf16>, tensor<?x4xbf16>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>) -> tensor<?x128xbf16>
  %q = evo.linear %n, %wq : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
  %bias = evo.linear %n, %wb : (tensor<?x128xbf16>, tensor<4x128xbf16>) -> tensor<?x4xbf16>
  return %q, %bias : tensor<?x128xbf16>, tensor<?x4xbf16>
}

// -----

// Another use of the normalized tensor: the layernorm stays (generic path)
// and the linears read it.
// CHECK-LABEL: func.func @also_returned(
//       CHECK:   %[[N:.*]] = evo.layernorm
//       CHECK:   gpu.launch_func @mf_kernels::@also_returned_linear_0
//       CHECK:   return %[[N]]
func.func @also_returned(%x: tensor<?x128xbf16>, %g: tensor<128xbf16>,
                         %b: tensor<128xbf16>, %wq: tensor<128x128xbf16>)
    -> (tensor<?x128xbf16>, tensor<?x128xbf16>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>) -> tensor<?x128xbf16>
  %q = evo.linear %n, %wq : (tensor<?x128xbf16>, tensor<128x128xbf16>) -> tensor<?x128xbf16>
  return %n, %q : tensor<?x128xbf16>, tensor<?x128xbf16>
}
