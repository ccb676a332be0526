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

// A reduction between parallel dims (loops i, k, n): only the outer level
// stays parallel; the inner parallel dims become scf.for, so no nested
// OpenMP region is created per (i, k).
// CHECK-LABEL: func @split_nest
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK-NOT: scf.parallel
// CHECK: scf.for
// CHECK: arith.mulf
func.func @split_nest(%x: memref<?x8xf32>, %w: memref<8x16xf32>,
                      %o: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d2)>],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %w : memref<?x8xf32>, memref<8x16xf32>)
      outs(%o : memref<?x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}
