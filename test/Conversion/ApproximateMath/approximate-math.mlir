// RUN: mf-opt %s -mf-approximate-math | FileCheck %s

// math.exp becomes arith (vectorizable with its loop); other math ops stay.
// CHECK-LABEL: func @exp_scalar
// CHECK-NOT: math.exp
// CHECK: arith.mulf
// CHECK: return
func.func @exp_scalar(%x: f32) -> f32 {
  %y = math.exp %x : f32
  return %y : f32
}

// CHECK-LABEL: func @log_untouched
// CHECK: math.log %{{.*}} : f32
func.func @log_untouched(%x: f32) -> f32 {
  %y = math.log %x : f32
  return %y : f32
}

// Inside a linalg body too.
// CHECK-LABEL: func @exp_in_generic
// CHECK: linalg.generic
// CHECK-NOT: math.exp
// CHECK: linalg.yield
func.func @exp_in_generic(%x: tensor<?xf32>) -> tensor<?xf32> {
  %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]}
      ins(%x : tensor<?xf32>) outs(%x : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  } -> tensor<?xf32>
  return %y : tensor<?xf32>
}
