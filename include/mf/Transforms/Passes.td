//===- Passes.td - evo-level transform passes --------------*- tablegen -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TRANSFORMS_PASSES_TD
#define MF_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// EvoFuseLayerNormLinearPass
//===----------------------------------------------------------------------===//

def EvoFuseLayerNormLinearPass : Pass<"evo-fuse-layernorm-linear"> {
  let summary = "Fuse evo.layernorm followed by evo.linear into layernorm_linear";
  let description = [{
    Rewrites `linear(layernorm(x))` into one `evo.layernorm_linear` when the
    layernorm result has no other use (otherwise the normalized tensor is
    needed anyway and fusing would recompute it).

    Input invariant: verified evo IR. Output IR: the same function with the
    pairs fused; everything else untouched.

    ```mlir
    %n = evo.layernorm %x, %g, %b : (...) -> tensor<?x128xf32>
    %y = evo.linear %n, %w bias(%c) : (...) -> tensor<?x4xf32>
    // becomes
    %y = evo.layernorm_linear %x, %g, %b, %w bias(%c) : (...) -> tensor<?x4xf32>
    ```
  }];
  let dependentDialects = ["::mf::evo::EvoDialect"];
}

//===----------------------------------------------------------------------===//
// EvoFuseTransitionPass
//===----------------------------------------------------------------------===//

def EvoFuseTransitionPass : Pass<"evo-fuse-transition"> {
  let summary = "Fuse layernorm, linear, swiglu, linear into evo.transition";
  let description = [{
    Rewrites AlphaFold3's Transition written as
    `linear(swiglu(linear(layernorm(x), w_up)), w_down)` (no biases) into one
    `evo.transition`, when every intermediate has exactly one use.

    Input invariant: verified evo IR. Output IR: the chains fused; a chain
    with a bias on either linear, or an intermediate with a second use, is
    left alone.

    ```mlir
    %n = evo.layernorm %x, %g, %b : ...
    %h = evo.linear %n, %up : ...
    %a = evo.swiglu %h : ...
    %y = evo.linear %a, %down : ...
    // becomes
    %y = evo.transition %x, %g, %b, %up, %down : ...
    ```
  }];
  let dependentDialects = ["::mf::evo::EvoDialect"];
}

//===----------------------------------------------------------------------===//
// EvoTileAttentionPass
//===----------------------------------------------------------------------===//

def EvoTileAttentionPass : Pass<"evo-tile-attention"> {
  let summary = "Tile evo.pair_bias_attention into the flash form";
  let description = [{
    Rewrites every `evo.pair_bias_attention` into a parallel loop over
    (batch, row, head, query block) around a sequential loop over key blocks
    that keeps an online softmax (f32 running max, running sum and output
    accumulator). No tensor holding a full N x N score block per (row, head)
    is left: the largest score tensor is block-q x block-k.

    Input invariant: verified evo IR. Output IR: scf.forall / scf.for over
    tensor.extract_slice, linalg.generic and tensor.insert_slice (or
    tensor.parallel_insert_slice); other evo ops untouched.

    ```mlir
    %o = evo.pair_bias_attention %q, %k, %v bias(%b) : ...
    // becomes
    %o = scf.forall (%b, %s, %h, %i) in (...) shared_outs(%out = %init) {
      %r:3 = scf.for %j = ... iter_args(%m = ..., %l = ..., %acc = ...) {...}
      ...
    }
    ```
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"32",
           "Query rows per block">,
    Option<"blockK", "block-k", "int64_t", /*default=*/"64",
           "Keys per block">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// EvoTileRowsPass
//===----------------------------------------------------------------------===//

def EvoTileRowsPass : Pass<"evo-tile-rows"> {
  let summary = "Tile the row-wise evo ops into blocks of rows";
  let description = [{
    layernorm, linear, layernorm_linear, swiglu and transition act on each
    row [C] of x [..., C] independently. This pass collapses the leading
    dims to M rows and rewrites each op into a parallel loop over blocks of
    `block-rows` rows, each applying the same op to its [rows, C] slice. The
    intermediates of a fused op (the normalized rows, the transition's
    [rows, 2F] hidden layer) then live per block, in cache, instead of as
    whole [M, ...] tensors in memory.

    Input invariant: verified evo IR. Output IR: scf.forall over
    tensor.extract_slice, the evo op on the slice, and
    tensor.parallel_insert_slice; ops already inside an scf.forall are left
    alone.

    ```mlir
    %y = evo.transition %x, ... : (tensor<?x128xf32>, ...) -> tensor<?x128xf32>
    // becomes
    %y = scf.forall (%i) in (%blocks) shared_outs(%o = %init) {
      %t = evo.transition %x_slice, ... : (tensor<?x128xf32>, ...) -> ...
      scf.forall.in_parallel { tensor.parallel_insert_slice %t into %o ... }
    }
    ```
  }];
  let options = [
    Option<"blockRows", "block-rows", "int64_t", /*default=*/"64",
           "Rows per block">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // MF_TRANSFORMS_PASSES_TD
