//===- Passes.td - evo conversion passes -------------------*- tablegen -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_CONVERSION_PASSES_TD
#define MF_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// ConvertEvoToLinalgPass
//===----------------------------------------------------------------------===//

def ConvertEvoToLinalgPass : Pass<"convert-evo-to-linalg"> {
  let summary = "Lower every evo op to linalg, tensor, arith and math";
  let description = [{
    The reference lowering every target can fall back to. Each op becomes
    linalg.generic ops on tensors with f32 accumulation and statistics
    (inputs of bf16/f16 are extended, results truncated once at the end).
    pair_bias_attention materializes its [B, S, H, N, N] scores here: run
    `evo-tile-attention` first for the flash form.

    Input invariant: verified evo IR. Output IR: no evo op left.

    ```mlir
    %y = evo.swiglu %x : (tensor<?x8xf32>) -> tensor<?x4xf32>
    // becomes
    %e = tensor.empty(%d0) : tensor<?x4xf32>
    %y = linalg.generic ... ins(%x, %x ...) outs(%e ...) { a * b * sigmoid(b) }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// BufferizeEntryPointsPass
//===----------------------------------------------------------------------===//

def BufferizeEntryPointsPass : Pass<"mf-bufferize", "::mlir::ModuleOp"> {
  let summary = "One-shot bufferization for entry points in destination style";
  let description = [{
    Runs one-shot module bufferization (function boundaries with identity
    layouts, loops may yield new buffers) with copies emitted as linalg.copy,
    so that the compiled code needs no MLIR runtime library, then turns every
    memref result of a public function into an out-parameter: the caller owns
    every output buffer.

    Input invariant: tensor IR without evo ops. Output IR: memrefs; public
    functions return nothing.
  }];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect"
  ];
}

//===----------------------------------------------------------------------===//
// ConvertEvoToGPUPass
//===----------------------------------------------------------------------===//

def ConvertEvoToGPUPass : Pass<"convert-evo-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Lower evo ops to launches of generated tensor-core kernels";
  let description = [{
    Replaces every pair_bias_attention, layernorm_linear, linear and
    transition (bf16 or f16) by a gpu.launch_func of a kernel generated into
    the gpu.module `@mf_kernels`: flash attention and row-block GEMMs whose
    block products are mma.sync m16n8k16 on the tensor cores (nvgpu.ldmatrix
    + nvvm.mma.sync), LayerNorm in the GEMM prologue and SwiGLU between the
    transition's two GEMMs, all in registers. Tile sizes come from the tuning
    table for `chip`.

    Operands cross into the launch through bufferization.to_buffer (read
    only) and results come back through bufferization.to_tensor of a fresh
    buffer, so one-shot bufferization places them (mf-bufferize makes the
    returned ones the caller's out-params).

    An evo op without a tensor-core kernel (f32 or mixed element types, a
    lone layernorm or swiglu, an unsupported head dim) is left in place for
    the generic path (convert-evo-to-linalg, then mf-linalg-to-gpu after
    bufferization), as are the other tensor ops; with `generic=false` it is
    an error naming the op and the reason, and so is any other op on
    tensors except reshapes.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "The target chip, as the tuning table names it">,
    Option<"tuningTable", "tuning-table", "std::string", /*default=*/"\"\"",
           "A JSON tuning table to read instead of the built-in one">,
    Option<"target", "target", "std::string", /*default=*/"\"cuda\"",
           "cuda (mma.sync kernels) or rocm (MFMA kernels for gfx90a/gfx942, "
           "WMMA kernels for gfx1100)">,
    Option<"f32AsBf16", "f32-as-bf16", "bool", /*default=*/"false",
           "Give f32 evo ops the bf16 tensor-core kernels: float operands "
           "rounded to bf16 (arith.truncf), results widened back to f32; "
           "accumulation and softmax stay f32">,
    Option<"reportGeneric", "report-generic", "bool", /*default=*/"false",
           "A remark on every evo op left to the generic path, saying why">,
    Option<"generic", "generic", "bool", /*default=*/"true",
           "Leave evo ops without a tensor-core kernel, and other tensor "
           "ops, to the generic linalg path instead of failing">,
  ];
  let dependentDialects = [
    "::mlir::amdgpu::AMDGPUDialect",
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// GPUHostBuffersPass
//===----------------------------------------------------------------------===//

def GPUHostBuffersPass : Pass<"mf-gpu-host-buffers", "::mlir::func::FuncOp"> {
  let summary = "Make the host code's buffers device memory";
  let description = [{
    In a function of the cuda target every memref is device memory that the
    host code only passes to kernels. This pass (1) writes kernel results
    straight into the out-parameter they are copied to at the end (a
    buffer allocated, written, then copied whole into an out-param becomes
    that out-param), then (2) turns the remaining memref.alloc/dealloc into
    gpu.alloc/gpu.dealloc and memref.copy/linalg.copy into gpu.memcpy (a
    copy between strided views stays a linalg.copy, for mf-linalg-to-gpu).
    An expand_shape with two dynamic sizes in one group becomes a
    reinterpret_cast (MLIR 22's expand-strided-metadata crashes on it).

    Input invariant: bufferized host code after mf-bufferize.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::gpu::GPUDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect"
  ];
}

//===----------------------------------------------------------------------===//
// LinalgToGPUPass
//===----------------------------------------------------------------------===//

def LinalgToGPUPass : Pass<"mf-linalg-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Run the host code's linalg ops as generic GPU kernels";
  let description = [{
    The generic code path of the GPU targets, for what the tensor-core
    kernels do not cover (f32 attention, a lone layernorm or swiglu,
    transposes, residual adds, fills). Every linalg op on buffers outside a
    gpu.module becomes a kernel in `@mf_kernels` (beside the tensor-core ones, so
    that the module has one device binary) and a
    gpu.launch_func: one thread per point of the op's parallel iteration
    space (innermost parallel dim fastest, so an identity-mapped output is
    written coalesced), its reduction dims walked sequentially with the
    outputs' values as the initial accumulators, the op's region inlined.
    No matrix units and no tiling: correct everywhere, fast nowhere; the
    evo ops in bf16/f16 take the tensor-core kernels instead.

    Afterwards host code must not read or write memory (every buffer of a
    GPU function is device memory): a memref load, store or copy, or an op
    on tensors, left outside a kernel is an error naming it.

    Input invariant: bufferized host code after mf-gpu-host-buffers.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
}

//===----------------------------------------------------------------------===//
// ApproximateMathPass
//===----------------------------------------------------------------------===//

def ApproximateMathPass : Pass<"mf-approximate-math"> {
  let summary = "Replace math.exp by MLIR's inline polynomial approximation";
  let description = [{
    A libm call per element cannot be vectorized; the polynomial form is
    plain arith, which LLVM vectorizes with the surrounding loop. It keeps
    exp(-inf) = 0, which masked attention relies on (checked by the CPU
    numerics suite).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// CPUVectorizeLinearPass
//===----------------------------------------------------------------------===//

def CPUVectorizeLinearPass : Pass<"mf-cpu-vectorize-linear"> {
  let summary = "Register-blocked vector code for the linear contractions";
  let description = [{
    Rewrites the f32 contraction that convert-evo-to-linalg emits for a
    linear layer (after bufferization: `out[m, n] += x[m, k] * wT[k, n]`
    with static K and Nout, identity layouts) into a register-blocked loop
    nest: a parallel loop over blocks of `rows` rows, columns in vectors of
    `width` floats kept in registers across the whole k loop (vector.fma
    with x broadcast). Any other linalg op is left alone.

    Input invariant: bufferized IR. Output IR: scf.forall / scf.for with
    vector.load, vector.fma, vector.store.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"4",
           "Rows per register block">,
    Option<"width", "width", "int64_t", /*default=*/"16",
           "Output columns per vector">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// CPULinalgToLoopsPass
//===----------------------------------------------------------------------===//

def CPULinalgToLoopsPass : Pass<"mf-cpu-linalg-to-loops"> {
  let summary = "linalg to loops, parallel only outside other parallel loops";
  let description = [{
    A linalg op that is not inside a parallel loop (scf.forall or
    scf.parallel) becomes scf.parallel over its parallel dims, which
    convert-scf-to-openmp spreads over the cores (layernorm statistics,
    elementwise epilogues over all rows). One that is already inside a
    parallel loop (an attention tile) becomes plain scf.for: a nested
    OpenMP region per tile would cost more than it gives.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect"];
}

//===----------------------------------------------------------------------===//
// MarkEntryPointsPass
//===----------------------------------------------------------------------===//

def MarkEntryPointsPass : Pass<"mf-mark-entry-points", "::mlir::ModuleOp"> {
  let summary = "Mark public functions as entry points with a C interface";
  let description = [{
    Sets `llvm.emit_c_interface` on every public func.func with a body, so
    that func-to-llvm emits `@_mlir_ciface_<name>` taking memref descriptors
    by pointer, which mf-pack-entry-points then wraps. Private functions are
    left alone (they are inlined or internal).
  }];
}

//===----------------------------------------------------------------------===//
// PackEntryPointsPass
//===----------------------------------------------------------------------===//

def PackEntryPointsPass : Pass<"mf-pack-entry-points", "::mlir::ModuleOp"> {
  let summary = "Add the runtime's packed entry point to each public function";
  let description = [{
    For every public `llvm.func @f` that has a C interface wrapper
    `@_mlir_ciface_f`, adds `llvm.func @_mf_entry_f(%args: !llvm.ptr)` that
    loads argument i's memref descriptor pointer from `args[i]` and calls the
    wrapper: one uniform signature the runtime can call for any entry.

    Input invariant: LLVM dialect after func-to-llvm with
    `llvm.emit_c_interface`. Output IR: the same plus one function per entry.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // MF_CONVERSION_PASSES_TD
