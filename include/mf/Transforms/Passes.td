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

#endif // MF_TRANSFORMS_PASSES_TD
