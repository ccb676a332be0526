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
#include "mlir/IR/PatternMatch.h"

#define DEBUG_TYPE "mf-cpu-linalg-to-loops"

namespace mf {
#define GEN_PASS_DEF_CPULINALGTOLOOPSPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

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
  }
};
} // namespace
