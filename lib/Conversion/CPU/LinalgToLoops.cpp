//===- LinalgToLoops.cpp - linalg to loops, parallel at the top -----------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Top-level linalg ops become scf.parallel (spread over the cores by
// convert-scf-to-openmp); linalg ops inside a parallel loop become scf.for.
// Preconditions: bufferized linalg.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

#define DEBUG_TYPE "mf-cpu-linalg-to-loops"

namespace mf {
#define GEN_PASS_DEF_CPULINALGTOLOOPSPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

/// Rewrites an scf.parallel without reductions into nested scf.for loops.
static void serialize(scf::ParallelOp parallel) {
  OpBuilder b(parallel);
  Block *body = parallel.getBody();
  scf::buildLoopNest(b, parallel.getLoc(), parallel.getLowerBound(),
                     parallel.getUpperBound(), parallel.getStep(),
                     [&](OpBuilder &nb, Location, ValueRange ivs) {
                       IRMapping mapping;
                       mapping.map(body->getArguments(), ivs);
                       for (Operation &op : body->without_terminator())
                         nb.clone(op, mapping);
                     });
  parallel.erase();
}

namespace {
struct CPULinalgToLoopsPass
    : mf::impl::CPULinalgToLoopsPassBase<CPULinalgToLoopsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      bool nested = op->getParentOfType<scf::ForallOp>() ||
                    op->getParentOfType<scf::ParallelOp>();
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::LinalgLoops> loops =
          nested ? linalg::linalgOpToLoops(rewriter, op)
                 : linalg::linalgOpToParallelLoops(rewriter, op);
      if (failed(loops)) {
        op->emitError() << "cannot lower to loops";
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
    // A linalg op whose reduction dim sits between parallel dims becomes
    // parallel loops around a sequential one around parallel loops; keep
    // only the outermost level parallel.
    SmallVector<scf::ParallelOp> inner;
    getOperation()->walk([&](scf::ParallelOp parallel) {
      if (parallel->getParentOfType<scf::ParallelOp>() ||
          parallel->getParentOfType<scf::ForallOp>())
        if (parallel.getInitVals().empty())
          inner.push_back(parallel);
    });
    // Innermost first (post-order walk), so nested ones go before parents.
    for (scf::ParallelOp parallel : inner)
      serialize(parallel);
  }
};
} // namespace
