// RUN: mf-opt %s --mf-linalg-to-gpu --split-input-file | FileCheck %s

// A transpose: one thread per output element, the innermost output dim
// fastest; the input is read through the permutation.
// CHECK-LABEL: func.func @transpose(
//  CHECK-SAME:   %[[X:.*]]: memref<?x?x4xf32>, %[[Y:.*]]: memref<?x?x4xf32>)
//   CHECK-DAG:   %[[C256:.*]] = arith.constant 256 : index
//       CHECK:   %[[BLOCKS:.*]] = arith.maxui
//       CHECK:   gpu.launch_func @mf_kernels::@transpose_transpose_0
//  CHECK-SAME:     blocks in (%[[BLOCKS]], %[[ONE:[^,]*]], %[[ONE]]) threads in (%[[C256]], %[[ONE]], %[[ONE]])
//  CHECK-SAME:     args(%[[X]] : memref<?x?x4xf32>, %[[Y]] : memref<?x?x4xf32>)
//   CHECK-NOT:   linalg.
//       CHECK: gpu.module @mf_kernels
//       CHECK:   gpu.func @transpose_transpose_0(%[[A:.*]]: memref<?x?x4xf32>, %[[B:.*]]: memref<?x?x4xf32>) kernel
//  CHECK-SAME:     known_block_size = array<i32: 256, 1, 1>
//       CHECK:     %[[ID:.*]] = arith.addi
//       CHECK:     %[[IN:.*]] = arith.cmpi ult, %[[ID]]
//       CHECK:     scf.if %[[IN]] {
//       CHECK:       %[[D2:.*]] = arith.remui %[[ID]], %{{.*}}
//       CHECK:       %[[R:.*]] = arith.divui %[[ID]]
//       CHECK:       %[[D1:.*]] = arith.remui %[[R]]
//       CHECK:       %[[R2:.*]] = arith.divui %[[R]]
//       CHECK:       %[[D0:.*]] = arith.remui %[[R2]]
//       CHECK:       %[[V:.*]] = memref.load %[[A]][%[[D1]], %[[D0]], %[[D2]]]
//       CHECK:       memref.store %[[V]], %[[B]][%[[D0]], %[[D1]], %[[D2]]]
func.func @transpose(%x: memref<?x?x4xf32>, %y: memref<?x?x4xf32>) {
  linalg.transpose ins(%x : memref<?x?x4xf32>) outs(%y : memref<?x?x4xf32>)
      permutation = [1, 0, 2]
  return
}

// -----

// A row sum with the reduction dim first in the iteration order: the thread
// owns a row, the reduction is a loop carrying the output's value, the
// region's captured constant is cloned into the kernel, linalg.index reads
// the loop variable.
// CHECK-LABEL: func.func @row_sum(
//       CHECK:   gpu.launch_func @mf_kernels::@row_sum_generic_0
//  CHECK-SAME:     args(%{{.*}} : memref<?x?xf32>, %{{.*}} : memref<?xf32>)
//       CHECK: gpu.func @row_sum_generic_0(%[[X:.*]]: memref<?x?xf32>, %[[Y:.*]]: memref<?xf32>) kernel
//       CHECK:   %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
//       CHECK:   scf.if
//       CHECK:     %[[ROW:.*]] = arith.remui
//       CHECK:     %[[INIT:.*]] = memref.load %[[Y]][%[[ROW]]]
//       CHECK:     %[[SUM:.*]] = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
//       CHECK:       %[[XV:.*]] = memref.load %[[X]][%[[K]], %[[ROW]]]
//       CHECK:       %[[KI:.*]] = arith.index_cast %[[K]]
//       CHECK:       arith.mulf %[[XV]], %[[TWO]]
//       CHECK:       scf.yield
//       CHECK:     memref.store %[[SUM]], %[[Y]][%[[ROW]]]
#kr = affine_map<(k, r) -> (k, r)>
#r = affine_map<(k, r) -> (r)>
func.func @row_sum(%x: memref<?x?xf32>, %y: memref<?xf32>) {
  %two = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [#kr, #r],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<?x?xf32>) outs(%y : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %k = linalg.index 0 : index
    %ki = arith.index_cast %k : index to i32
    %kf = arith.sitofp %ki : i32 to f32
    %t = arith.mulf %a, %two : f32
    %u = arith.addf %t, %kf : f32
    %s = arith.addf %acc, %u : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A fill: the scalar operand becomes a kernel argument; a broadcast input
// is read at a constant index.
// CHECK-LABEL: func.func @fill_and_broadcast(
//  CHECK-SAME:   %[[V:.*]]: f32
//       CHECK:   gpu.launch_func @mf_kernels::@fill_and_broadcast_fill_0
//  CHECK-SAME:     args(%[[V]] : f32, %{{.*}} : memref<8x?xf32>)
//       CHECK:   gpu.launch_func @mf_kernels::@fill_and_broadcast_generic_1
//       CHECK: gpu.func @fill_and_broadcast_fill_0(%[[S:.*]]: f32, %[[O:.*]]: memref<8x?xf32>) kernel
//       CHECK:   memref.store %[[S]], %[[O]]
//       CHECK: gpu.func @fill_and_broadcast_generic_1(%[[B:.*]]: memref<1x?xf32>, %{{.*}}: memref<8x?xf32>) kernel
//       CHECK:   %[[ZERO:.*]] = arith.constant 0 : index
//       CHECK:   memref.load %[[B]][%[[ZERO]], %{{.*}}]
#bcast = affine_map<(i, j) -> (0, j)>
#id = affine_map<(i, j) -> (i, j)>
func.func @fill_and_broadcast(%v: f32, %b: memref<1x?xf32>, %o: memref<8x?xf32>) {
  linalg.fill ins(%v : f32) outs(%o : memref<8x?xf32>)
  linalg.generic {indexing_maps = [#bcast, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%b : memref<1x?xf32>) outs(%o : memref<8x?xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A row maximum along the contiguous dim: 32 lanes per row (8 rows per
// 256-thread block), each lane folding every 32nd element from the
// combiner's neutral value, then xor shuffles, then lane 0 folds in the
// initial value and stores.
// CHECK-LABEL: func.func @row_max(
//       CHECK:   %[[ROWS:.*]] = memref.dim %{{.*}}, %c0
//       CHECK:   %[[SUM:.*]] = arith.addi %{{.*}}, %c7
//       CHECK:   %[[BLOCKS:.*]] = arith.divui %[[SUM]], %c8
//       CHECK:   gpu.launch_func @mf_kernels::@row_max_generic_0
//       CHECK: gpu.func @row_max_generic_0(%[[X:.*]]: memref<?x?xf32>, %[[Y:.*]]: memref<?xf32>) kernel
//       CHECK:   %[[LANE:.*]] = arith.remui %{{.*}}, %c32
//       CHECK:   %[[GROUP:.*]] = arith.divui %{{.*}}, %c32
//       CHECK:   scf.if
//       CHECK:     %[[NEUTRAL:.*]] = arith.constant 0xFF800000 : f32
//       CHECK:     %[[PART:.*]] = scf.for %[[K:.*]] = %[[LANE]] to %{{.*}} step %c32{{.*}} iter_args(%[[ACC:.*]] = %[[NEUTRAL]]) -> (f32) {
//       CHECK:       %[[V:.*]] = memref.load %[[X]][%{{.*}}, %{{.*}}]
//       CHECK:       %[[M:.*]] = arith.maximumf %[[ACC]], %[[V]] : f32
//       CHECK:       scf.yield %[[M]]
//       CHECK:     gpu.shuffle  xor %[[PART]], %c16_i32, %c32_i32 : f32
//       CHECK:     gpu.shuffle  xor %{{.*}}, %c8_i32, %c32_i32 : f32
//       CHECK:     gpu.shuffle  xor %{{.*}}, %c4_i32, %c32_i32 : f32
//       CHECK:     gpu.shuffle  xor %{{.*}}, %c2_i32, %c32_i32 : f32
//       CHECK:     %[[S1:.*]], %{{.*}} = gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32 : f32
//       CHECK:     %[[ALL:.*]] = arith.maximumf %{{.*}}, %[[S1]] : f32
//       CHECK:     %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
//       CHECK:     scf.if %[[FIRST]] {
//       CHECK:       %[[INIT:.*]] = memref.load %[[Y]]
//       CHECK:       %[[R:.*]] = arith.maximumf %[[INIT]], %[[ALL]] : f32
//       CHECK:       memref.store %[[R]], %[[Y]]
#rk = affine_map<(r, k) -> (r, k)>
#r2 = affine_map<(r, k) -> (r)>
func.func @row_max(%x: memref<?x?xf32>, %y: memref<?xf32>) {
  linalg.generic {indexing_maps = [#rk, #r2],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%y : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  return
}
