// RUN: mf-opt %s --mf-linalg-to-gpu --split-input-file --verify-diagnostics

// Host code of a GPU target holds device memory: it may not read it.
func.func @host_load(%x: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' op reads or writes memory in host code: on a GPU target every buffer is device memory, which only kernels touch}}
  %v = memref.load %x[%c0] : memref<4xf32>
  return %v : f32
}

// -----

// The pass runs after bufferization.
func.func @on_tensors(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'linalg.copy' op on tensors reached the generic GPU path; it runs after bufferization}}
  %r = linalg.copy ins(%x : tensor<4xf32>) outs(%y : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
