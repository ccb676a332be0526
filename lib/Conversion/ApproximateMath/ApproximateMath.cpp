//===- ApproximateMath.cpp - vectorizable math.exp ------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Rewrites math.exp into MLIR's polynomial approximation (arith only), so
// the softmax loops vectorize instead of calling expf per element.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "mf-approximate-math"

namespace mf {
#define GEN_PASS_DEF_APPROXIMATEMATHPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

namespace {
struct ApproximateMathPass
    : mf::impl::ApproximateMathPassBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return name == math::ExpOp::getOperationName();
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
