// mf-pack-entry-points follows in the MARK run only so that the expected
// errors of the last two chunks are produced (it leaves func.func alone).
// RUN: mf-opt %s -split-input-file -verify-diagnostics -mf-mark-entry-points -mf-pack-entry-points | FileCheck %s --check-prefix=MARK
// RUN: mf-opt %s -split-input-file -verify-diagnostics --mf-lower-to-cpu-pipeline | FileCheck %s --check-prefix=CPU
// RUN: mf-opt %s -split-input-file -verify-diagnostics -mf-pack-entry-points | FileCheck %s --check-prefix=PACK

// Every chunk goes through every RUN line: mf-mark-entry-points only touches
// func.func, mf-pack-entry-points only llvm.func @_mlir_ciface_*, and the
// invalid wrappers at the end fail the same way in the CPU pipeline (whose
// last pass is mf-pack-entry-points) as in mf-pack-entry-points alone.

// mf-mark-entry-points: public functions with a body get
// llvm.emit_c_interface; private, nested and external ones do not.
// MARK-LABEL: func.func @public_entry(
// MARK-SAME: attributes {llvm.emit_c_interface}
// MARK-LABEL: func.func private @helper(
// MARK-NOT: llvm.emit_c_interface
// MARK-LABEL: func.func private @external(
// MARK-NOT: llvm.emit_c_interface
// MARK-LABEL: func.func nested @nested_helper(
// MARK-NOT: llvm.emit_c_interface
// MARK-LABEL: func.func @second_entry(
// MARK-SAME: attributes {llvm.emit_c_interface}
// MARK-LABEL: func.func private @unused_helper(
// MARK-NOT: llvm.emit_c_interface
// MARK: // -----
// After the CPU pipeline, the public functions have packed entry points and
// the private helpers are inlined and gone.
// CPU-LABEL: llvm.func @public_entry(
// CPU-LABEL: llvm.func @_mlir_ciface_public_entry(
// CPU-LABEL: llvm.func @second_entry(
// CPU-LABEL: llvm.func @_mlir_ciface_second_entry(
// CPU-NOT: @helper
// CPU-NOT: @nested_helper
// CPU-NOT: @unused_helper
// CPU-NOT: @_mf_entry_helper
// CPU-LABEL: llvm.func @_mf_entry_public_entry(
// CPU-LABEL: llvm.func @_mf_entry_second_entry(
// CPU-NOT: @helper
// CPU-NOT: @nested_helper
// CPU-NOT: @unused_helper
// CPU: // -----
// PACK-NOT: @_mf_entry_
// PACK: // -----
func.func @public_entry(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = func.call @helper(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %z = func.call @nested_helper(%y) : (tensor<4xf32>) -> tensor<4xf32>
  return %z : tensor<4xf32>
}
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = arith.addf %x, %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func private @external(%x: tensor<4xf32>) -> tensor<4xf32>
func.func nested @nested_helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = arith.mulf %x, %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func @second_entry(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %y = arith.subf %a, %b : tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func private @unused_helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// The CPU pipeline on an evo function: the result becomes an out-parameter,
// func-to-llvm adds the C interface @_mlir_ciface_swiglu_entry (one
// descriptor pointer per memref), and mf-pack-entry-points adds
// @_mf_entry_swiglu_entry(ptr %args), which loads args[0] (the input) and
// args[1] (the output) and calls it.
// MARK-LABEL: func.func @swiglu_entry(
// MARK-SAME: attributes {llvm.emit_c_interface}
// CPU-NOT: evo.
// CPU-LABEL: llvm.func @swiglu_entry(
// CPU-LABEL: llvm.func @_mlir_ciface_swiglu_entry(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CPU-NEXT: llvm.load
// CPU: llvm.call @swiglu_entry(
// CPU-NEXT: llvm.return
// CPU-NEXT: }
// CPU-LABEL: llvm.func @_mf_entry_swiglu_entry(
// CPU-SAME: %[[ARGS:.*]]: !llvm.ptr) {
// CPU-NEXT: %[[S0:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CPU-NEXT: %[[D0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CPU-NEXT: %[[S1:.*]] = llvm.getelementptr %[[ARGS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CPU-NEXT: %[[D1:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// CPU-NEXT: llvm.call @_mlir_ciface_swiglu_entry(%[[D0]], %[[D1]]) : (!llvm.ptr, !llvm.ptr) -> ()
// CPU-NEXT: llvm.return
// CPU-NEXT: }
// CPU-NOT: evo.
// CPU: // -----
// PACK-NOT: @_mf_entry_
// PACK: // -----
func.func @swiglu_entry(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %y = evo.swiglu %x : (tensor<?x8xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// mf-pack-entry-points on hand-written LLVM dialect: each defined
// @_mlir_ciface_f gets @_mf_entry_f; a declared one (no body) does not.
// PACK-LABEL: llvm.func @_mlir_ciface_two(
// PACK-LABEL: llvm.func @_mlir_ciface_none()
// PACK-LABEL: llvm.func @_mlir_ciface_declared(!llvm.ptr)
// PACK-LABEL: llvm.func @_mf_entry_two(
// PACK-SAME: %[[ARGS:.*]]: !llvm.ptr) {
// PACK-NEXT: %[[S0:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// PACK-NEXT: %[[D0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// PACK-NEXT: %[[S1:.*]] = llvm.getelementptr %[[ARGS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// PACK-NEXT: %[[D1:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// PACK-NEXT: llvm.call @_mlir_ciface_two(%[[D0]], %[[D1]]) : (!llvm.ptr, !llvm.ptr) -> ()
// PACK-NEXT: llvm.return
// PACK-NEXT: }
// A wrapper without arguments still gets the uniform signature.
// PACK-LABEL: llvm.func @_mf_entry_none(%{{.*}}: !llvm.ptr) {
// PACK-NEXT: llvm.call @_mlir_ciface_none() : () -> ()
// PACK-NEXT: llvm.return
// PACK-NOT: @_mf_entry_declared
// PACK: // -----
// MARK-LABEL: llvm.func @_mlir_ciface_two(
// MARK: // -----
// CPU-LABEL: llvm.func @_mf_entry_two(
// CPU: llvm.func @_mf_entry_none(
// CPU-NOT: @_mf_entry_declared
// CPU: // -----
llvm.func @two(%arg0: !llvm.ptr, %arg1: !llvm.ptr) {
  llvm.return
}
llvm.func @_mlir_ciface_two(%arg0: !llvm.ptr, %arg1: !llvm.ptr) {
  llvm.call @two(%arg0, %arg1) : (!llvm.ptr, !llvm.ptr) -> ()
  llvm.return
}
llvm.func @_mlir_ciface_none() {
  llvm.return
}
llvm.func @_mlir_ciface_declared(!llvm.ptr)

// -----

// A wrapper that returns a value breaks the runtime's void(void **) calling
// convention: an error, not an entry point.
// expected-error @+1 {{entry point '_mlir_ciface_returns' must return its results through out-parameters}}
llvm.func @_mlir_ciface_returns(%arg0: !llvm.ptr) -> i32 {
  %c = llvm.mlir.constant(0 : i32) : i32
  llvm.return %c : i32
}

// -----

// Every argument of a wrapper must be a memref descriptor pointer.
// expected-error @+1 {{entry point '_mlir_ciface_scalar_arg' argument 1 is not a memref descriptor pointer but 'i64'}}
llvm.func @_mlir_ciface_scalar_arg(%arg0: !llvm.ptr, %arg1: i64) {
  llvm.return
}
