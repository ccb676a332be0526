//===- BufferizeEntryPoints.cpp - bufferize into destination style --------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// One-shot module bufferization configured for our artifacts: identity
// layouts at function boundaries (the runtime passes contiguous tensors),
// copies as linalg.copy (lowered to loops, so no MLIR runtime library is
// needed at run time), then results turned into caller-owned out-parameters.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#define DEBUG_TYPE "mf-bufferize"

namespace mf {
#define GEN_PASS_DEF_BUFFERIZEENTRYPOINTSPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

/// Copies as linalg.copy, which lowers to plain loops.
static LogicalResult copyWithLinalg(OpBuilder &b, Location loc, Value from,
                                    Value to) {
  linalg::CopyOp::create(b, loc, from, to);
  return success();
}

namespace {
struct BufferizeEntryPointsPass
    : mf::impl::BufferizeEntryPointsPassBase<BufferizeEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.setFunctionBoundaryTypeConversion(
        bufferization::LayoutMapOption::IdentityLayoutMap);
    options.allowReturnAllocsFromLoops = true;
    options.memCpyFn = copyWithLinalg;
    bufferization::BufferizationState state;
    if (failed(bufferization::runOneShotModuleBufferize(module, options,
                                                        state)))
      return signalPassFailure();

    bufferization::BufferResultsToOutParamsOpts outParams;
    outParams.hoistStaticAllocs = true;
    outParams.memCpyFn = copyWithLinalg;
    if (failed(bufferization::promoteBufferResultsToOutParams(module,
                                                              outParams)))
      return signalPassFailure();
  }
};
} // namespace
