//===- FuseLayerNormLinear.cpp - layernorm + linear -> layernorm_linear ---===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Fuses `evo.linear(evo.layernorm(x))` into `evo.layernorm_linear` when the
// layernorm result has no other use. Preconditions: verified evo IR.
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoOps.h"
#include "mf/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "evo-fuse-layernorm-linear"

namespace mf {
#define GEN_PASS_DEF_EVOFUSELAYERNORMLINEARPASS
#include "mf/Transforms/Passes.h.inc"
} // namespace mf

using namespace mlir;
using namespace mf::evo;

namespace {

/// linear(layernorm(x)) -> layernorm_linear(x).
struct FuseLayerNormIntoLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp linear,
                                PatternRewriter &rewriter) const override {
    auto norm = linear.getX().getDefiningOp<LayerNormOp>();
    if (!norm)
      return rewriter.notifyMatchFailure(linear, "input is not a layernorm");
    if (!norm->hasOneUse())
      return rewriter.notifyMatchFailure(
          linear, "the layernorm result has another use");
    rewriter.replaceOpWithNewOp<LayerNormLinearOp>(
        linear, linear.getType(), norm.getX(), norm.getGamma(), norm.getBeta(),
        linear.getWeight(), linear.getBias(), norm.getEpsAttr());
    rewriter.eraseOp(norm);
    return success();
  }
};

struct EvoFuseLayerNormLinearPass
    : mf::impl::EvoFuseLayerNormLinearPassBase<EvoFuseLayerNormLinearPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseLayerNormIntoLinear>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
