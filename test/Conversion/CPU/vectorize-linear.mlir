// RUN: mf-opt %s -mf-cpu-vectorize-linear | FileCheck %s
// RUN: mf-opt %s -mf-cpu-vectorize-linear="rows=2 width=8" | FileCheck %s --check-prefix=SMALL
// RUN: not mf-opt %s -mf-cpu-vectorize-linear="rows=0" 2>&1 | FileCheck %s --check-prefix=BAD

#x = affine_map<(d0, d1, d2) -> (d0, d1)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#o = affine_map<(d0, d1, d2) -> (d0, d2)>

// out[m, n] += x[m, k] * wT[k, n], N = 20: one 16-wide block, then 4.
// CHECK-LABEL: func @linear
// CHECK-NOT: linalg.generic
// CHECK: scf.forall
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load {{.*}} vector<16xf32>
// CHECK: vector.broadcast
// CHECK: vector.fma {{.*}} : vector<16xf32>
// CHECK: -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: vector.store
// The rows left over after the 4-row blocks, one at a time.
// CHECK: scf.for
// CHECK: -> (vector<16xf32>)
// SMALL-LABEL: func @linear
// SMALL: -> (vector<8xf32>, vector<8xf32>)
// BAD: expects positive rows and width
func.func @linear(%x: memref<?x32xf32>, %wt: memref<32x20xf32>,
                  %out: memref<?x20xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %wt : memref<?x32xf32>, memref<32x20xf32>)
      outs(%out : memref<?x20xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// Not a multiply-accumulate: left alone.
// CHECK-LABEL: func @not_mac
// CHECK: linalg.generic
func.func @not_mac(%x: memref<?x32xf32>, %wt: memref<32x20xf32>,
                   %out: memref<?x20xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %wt : memref<?x32xf32>, memref<32x20xf32>)
      outs(%out : memref<?x20xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.maximumf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// A dynamic K is only a loop bound (attention's p.v over a partial key
// block); rows of x and wT may be strided when the columns are contiguous.
// CHECK-LABEL: func @dynamic_k
// CHECK: %[[K:.*]] = memref.dim %{{.*}}, %c1
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[K]]
// CHECK: vector.fma
func.func @dynamic_k(%x: memref<?x?xf32>, %wt: memref<?x20xf32, strided<[64, 1]>>,
                     %out: memref<?x20xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %wt : memref<?x?xf32>, memref<?x20xf32, strided<[64, 1]>>)
      outs(%out : memref<?x20xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}

// A dynamic N sets no vector width: left to linalg's loops.
// CHECK-LABEL: func @dynamic_n
// CHECK: linalg.generic
func.func @dynamic_n(%x: memref<?x32xf32>, %wt: memref<32x?xf32>,
                     %out: memref<?x?xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #o],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x, %wt : memref<?x32xf32>, memref<32x?xf32>)
      outs(%out : memref<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  }
  return
}
