// RUN: mf-opt %s -evo-tile-rows="block-rows=16" | FileCheck %s
// RUN: not mf-opt %s -evo-tile-rows="block-rows=0" 2>&1 | FileCheck %s --check-prefix=BAD

// A transition over [1, ?, ?, 128]: rows collapsed, blocks of 16 rows, the
// same op on each [rows, 128] slice, the result expanded back.
// CHECK-LABEL: func @transition
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2], [3]] : tensor<1x?x?x128xf32> into tensor<?x128xf32>
// CHECK: %[[R:.*]] = scf.forall (%{{.*}}) in (%{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x128xf32>)
// CHECK: tensor.extract_slice {{.*}} : tensor<?x128xf32> to tensor<?x128xf32>
// CHECK: evo.transition {{.*}} -> tensor<?x128xf32>
// CHECK: tensor.parallel_insert_slice
// CHECK: tensor.expand_shape %[[R]]
// BAD: evo-tile-rows expects a positive block-rows but got 0
func.func @transition(%x: tensor<1x?x?x128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>, %up: tensor<1024x128xf32>,
    %down: tensor<128x512xf32>) -> tensor<1x?x?x128xf32> {
  %y = evo.transition %x, %g, %b, %up, %down
      : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<1x?x?x128xf32>
  return %y : tensor<1x?x?x128xf32>
}

// A 2-D linear changes the width: [?, 128] -> [?, 4], no reshapes.
// CHECK-LABEL: func @linear
// CHECK-NOT: collapse_shape
// CHECK: scf.forall {{.*}} -> (tensor<?x4xf32>)
// CHECK: evo.linear {{.*}} -> tensor<?x4xf32>
// CHECK-NOT: expand_shape
func.func @linear(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>)
    -> tensor<?x4xf32> {
  %y = evo.linear %x, %w
      : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// A single row (rank 1) is left alone.
// CHECK-LABEL: func @one_row
// CHECK-NOT: scf.forall
// CHECK: evo.layernorm
func.func @one_row(%x: tensor<128xf32>, %g: tensor<128xf32>,
    %b: tensor<128xf32>) -> tensor<128xf32> {
  %y = evo.layernorm %x, %g, %b
      : (tensor<128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<128xf32>
  return %y : tensor<128xf32>
}
