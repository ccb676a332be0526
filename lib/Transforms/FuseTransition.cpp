//===- FuseTransition.cpp - LN, linear, swiglu, linear -> transition ------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Fuses AlphaFold3's Transition written op by op into `evo.transition`.
// The transition has no biases, so a chain whose linears have one stays
// unfused, as does a chain whose intermediates have other uses.
// Preconditions: verified evo IR. Run before evo-fuse-layernorm-linear, which
// would otherwise take the chain's head.
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoOps.h"
#include "mf/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "evo-fuse-transition"

namespace mf {
#define GEN_PASS_DEF_EVOFUSETRANSITIONPASS
#include "mf/Transforms/Passes.h.inc"
} // namespace mf

using namespace mlir;
using namespace mf::evo;

namespace {

/// linear(swiglu(linear(layernorm(x), up)), down) -> transition(x).
struct FuseTransitionChain : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp down,
                                PatternRewriter &rewriter) const override {
    auto swiglu = down.getX().getDefiningOp<SwiGLUOp>();
    if (!swiglu)
      return rewriter.notifyMatchFailure(down, "input is not a swiglu");
    auto up = swiglu.getX().getDefiningOp<LinearOp>();
    if (!up)
      return rewriter.notifyMatchFailure(down, "swiglu input is not a linear");
    auto norm = up.getX().getDefiningOp<LayerNormOp>();
    if (!norm)
      return rewriter.notifyMatchFailure(down, "up-projection input is not a "
                                               "layernorm");
    if (down.getBias() || up.getBias())
      return rewriter.notifyMatchFailure(down,
                                         "a linear has a bias; the transition "
                                         "has none");
    if (!swiglu->hasOneUse() || !up->hasOneUse() || !norm->hasOneUse())
      return rewriter.notifyMatchFailure(down,
                                         "an intermediate has another use");
    // The transition's down weight maps F back to C, the layernorm's width.
    if (down.getType() != norm.getType())
      return rewriter.notifyMatchFailure(
          down, "the output does not have the input's shape");
    rewriter.replaceOpWithNewOp<TransitionOp>(
        down, down.getType(), norm.getX(), norm.getGamma(), norm.getBeta(),
        up.getWeight(), down.getWeight(), norm.getEpsAttr());
    rewriter.eraseOp(swiglu);
    rewriter.eraseOp(up);
    rewriter.eraseOp(norm);
    return success();
  }
};

struct EvoFuseTransitionPass
    : mf::impl::EvoFuseTransitionPassBase<EvoFuseTransitionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseTransitionChain>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
