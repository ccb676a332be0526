// RUN: mf-opt %s --mf-gpu-host-buffers --split-input-file | FileCheck %s

// A kernel result copied whole into the out-param at the end: the kernel
// writes the out-param, the buffer and the copy go.

// CHECK-LABEL: func.func @forward(
// CHECK-SAME:      %[[X:[a-z0-9]+]]: memref<?x8xf32>, %[[OUT:[a-z0-9]+]]: memref<?x8xf32>)
// CHECK-NOT:     memref.alloc
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%[[OUT]] : memref<?x8xf32>)
// CHECK-NOT:     copy
// CHECK:         return
func.func @forward(%x: memref<?x8xf32>, %out: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 1.0 : f32
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %buf = memref.alloc(%n) : memref<?x8xf32>
  linalg.fill ins(%cst : f32) outs(%buf : memref<?x8xf32>)
  memref.copy %buf, %out : memref<?x8xf32> to memref<?x8xf32>
  return
}

// -----

// Through an expand_shape (rows computed as [M, C], returned as [B, N, C]):
// the kernel writes a collapsed view of the out-param.

// CHECK-LABEL: func.func @forward_expanded(
// CHECK-SAME:      %{{.*}}: memref<?x8xf32>, %[[OUT:[a-z0-9]+]]: memref<1x?x8xf32>)
// CHECK:         %[[VIEW:.*]] = memref.collapse_shape %[[OUT]] {{\[}}[0, 1], [2]] : memref<1x?x8xf32> into memref<?x8xf32>
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%[[VIEW]] : memref<?x8xf32>)
// CHECK-NOT:     copy
func.func @forward_expanded(%x: memref<?x8xf32>, %out: memref<1x?x8xf32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 1.0 : f32
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %buf = memref.alloc(%n) : memref<?x8xf32>
  linalg.fill ins(%cst : f32) outs(%buf : memref<?x8xf32>)
  %e = memref.expand_shape %buf [[0, 1], [2]] output_shape [1, %n, 8] : memref<?x8xf32> into memref<1x?x8xf32>
  linalg.copy ins(%e : memref<1x?x8xf32>) outs(%out : memref<1x?x8xf32>)
  return
}

// -----

// A buffer read after the copy stays, as device memory (gpu.alloc, freed at
// the end); the copy becomes a device copy.

// CHECK-LABEL: func.func @intermediate(
// CHECK:         %[[BUF:.*]] = gpu.alloc (%{{.*}}) : memref<?x8xf32>
// CHECK:         gpu.memcpy %arg1, %[[BUF]] : memref<?x8xf32>, memref<?x8xf32>
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%[[BUF]]
// CHECK:         gpu.dealloc %[[BUF]] : memref<?x8xf32>
// CHECK-NEXT:    return
func.func @intermediate(%x: memref<?x8xf32>, %out: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 1.0 : f32
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %buf = memref.alloc(%n) : memref<?x8xf32>
  memref.copy %buf, %out : memref<?x8xf32> to memref<?x8xf32>
  linalg.fill ins(%cst : f32) outs(%buf : memref<?x8xf32>)
  return
}

// -----

// Rows [M, C] seen as [1, N, N, C] (two dynamic sizes in one group): a
// reinterpret_cast with row-major strides instead of the expand_shape that
// MLIR 22's expand-strided-metadata crashes on.

// CHECK-LABEL: func.func @expand_two_dynamic(
// CHECK-SAME:      %[[X:[a-z0-9]+]]: memref<?x128xf32>, %[[N:[a-z0-9]+]]: index
// CHECK-NOT:     memref.expand_shape
// CHECK:         %[[ROW:.*]] = affine.apply {{.*}}()[%[[N]]]
// CHECK:         %[[V:.*]] = memref.reinterpret_cast %[[X]] to offset: [0], sizes: [1, %[[N]], %[[N]], 128], strides: [{{.*}}, %[[ROW]], 128, 1] : memref<?x128xf32> to memref<1x?x?x128xf32>
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%[[V]] : memref<1x?x?x128xf32>)
func.func @expand_two_dynamic(%x: memref<?x128xf32>, %n: index) {
  %cst = arith.constant 0.0 : f32
  %e = memref.expand_shape %x [[0, 1, 2], [3]] output_shape [1, %n, %n, 128]
      : memref<?x128xf32> into memref<1x?x?x128xf32>
  linalg.fill ins(%cst : f32) outs(%e : memref<1x?x?x128xf32>)
  return
}

// -----

// A copy between strided views is no gpu.memcpy: it stays a linalg.copy,
// which mf-linalg-to-gpu runs as a kernel.

// CHECK-LABEL: func.func @strided_copy(
// CHECK-NOT:     gpu.memcpy
// CHECK:         linalg.copy ins(%{{.*}} : memref<4x4xf32, strided<[8, 1]>>) outs(%{{.*}} : memref<4x4xf32>)
func.func @strided_copy(%x: memref<4x8xf32>, %y: memref<4x4xf32>) {
  %v = memref.subview %x[0, 0] [4, 4] [1, 1]
      : memref<4x8xf32> to memref<4x4xf32, strided<[8, 1]>>
  memref.copy %v, %y : memref<4x4xf32, strided<[8, 1]>> to memref<4x4xf32>
  return
}
