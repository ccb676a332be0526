//===- BufferizeEntryPoints.cpp - bufferize into destination style --------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// One-shot module bufferization configured for our artifacts: identity
// layouts at function boundaries (the runtime passes contiguous tensors),
// copies as linalg.copy (lowered to loops, so no MLIR runtime library is
// needed at run time), and results as caller-owned out-parameters: before
// bufferizing, every tensor result of a public function becomes a new
// argument that the result is materialized into, and empty-tensor
// elimination lets the computation write straight into it (no copy).
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Transforms.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
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

/// Appends one argument per tensor result of `func` and writes each result
/// into it; the function then returns nothing.
static LogicalResult addOutParams(func::FuncOp func) {
  auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
  SmallVector<Type> resultTypes(func.getResultTypes());
  for (Type type : resultTypes)
    if (!isa<RankedTensorType>(type))
      return func.emitError()
             << "entry point '" << func.getName() << "' returns " << type
             << "; only ranked tensors can be returned";
  OpBuilder b(ret);
  SmallVector<Type> argTypes(func.getArgumentTypes());
  for (auto [i, result] : llvm::enumerate(ret.getOperands())) {
    BlockArgument out =
        func.getBody().addArgument(resultTypes[i], func.getLoc());
    bufferization::MaterializeInDestinationOp::create(
        b, ret.getLoc(), resultTypes[i], result, out);
    argTypes.push_back(resultTypes[i]);
  }
  func::ReturnOp::create(b, ret.getLoc());
  ret.erase();
  func.setFunctionType(FunctionType::get(func.getContext(), argTypes, {}));
  return success();
}

namespace {
struct BufferizeEntryPointsPass
    : mf::impl::BufferizeEntryPointsPassBase<BufferizeEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal() && failed(addOutParams(func)))
        return signalPassFailure();
    IRRewriter rewriter(&getContext());
    if (failed(bufferization::eliminateEmptyTensors(rewriter, module)))
      return signalPassFailure();

    bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.setFunctionBoundaryTypeConversion(
        bufferization::LayoutMapOption::IdentityLayoutMap);
    options.allowReturnAllocsFromLoops = true;
    options.memCpyFn = copyWithLinalg;
    bufferization::BufferizationState state;
    if (failed(
            bufferization::runOneShotModuleBufferize(module, options, state)))
      return signalPassFailure();
  }
};
} // namespace
