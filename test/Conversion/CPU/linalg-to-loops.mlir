// RUN: mf-opt %s -mf-cpu-linalg-to-loops | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>

// A top-level op: parallel loops (OpenMP later).
// CHECK-LABEL: func @top_level
// CHECK: scf.parallel
// CHECK-NOT: linalg.generic
func.func @top_level(%a: memref<?x8xf32>, %b: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#id, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x8xf32>) outs(%b : memref<?x8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// Inside a parallel loop already: sequential loops.
// CHECK-LABEL: func @nested
// CHECK: scf.forall
// CHECK-NOT: scf.parallel
// CHECK: scf.for
func.func @nested(%a: memref<?x8xf32>, %b: memref<?x8xf32>, %n: index) {
  scf.forall (%i) in (%n) {
    linalg.generic {indexing_maps = [#id, #id],
                    iterator_types = ["parallel", "parallel"]}
        ins(%a : memref<?x8xf32>) outs(%b : memref<?x8xf32>) {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      linalg.yield %s : f32
    }
  }
  return
}
