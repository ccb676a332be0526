//===- LinalgToGPU.cpp - host linalg ops as generic GPU kernels -----------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The GPU targets' generic code path: every linalg op left in host code
// after bufferization (an op the tensor-core kernels do not cover: f32
// attention, a lone layernorm, swiglu, transposes, residual adds, fills)
// becomes one kernel in which each thread owns one point of the op's
// parallel iteration space and walks its reduction dims sequentially.
// Threads are numbered with the innermost parallel dim fastest, so the
// usual identity-mapped output is written coalesced.
//
// Then no host code may read or write memory: every memref a function of a
// GPU target holds is device memory.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mf {
#define GEN_PASS_DEF_LINALGTOGPUPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

namespace {

constexpr int64_t kThreadsPerBlock = 256;

/// The indices of `map` applied to the loop induction variables `ivs`.
SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map,
                            ValueRange ivs) {
  SmallVector<Value> indices;
  SmallVector<Value> operands;
  for (AffineExpr expr : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      indices.push_back(ivs[dim.getPosition()]);
      continue;
    }
    if (auto constant = dyn_cast<AffineConstantExpr>(expr)) {
      indices.push_back(
          arith::ConstantIndexOp::create(b, loc, constant.getValue()));
      continue;
    }
    // The dims this point does not fix (an output's reduction dims) are
    // not in `expr`; any value serves.
    if (operands.empty())
      for (Value iv : ivs)
        operands.push_back(iv ? iv : arith::ConstantIndexOp::create(b, loc, 0));
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, expr), operands));
  }
  return indices;
}

/// Builds the body of the kernel for `op`, a clone of the host op whose
/// operands are the kernel's arguments: thread -> parallel point, loads,
/// the reduction loops around the cloned region, stores.
void buildKernelBody(OpBuilder &b, Location loc, linalg::LinalgOp op) {
  SmallVector<Range> ranges = op.createLoopRanges(b, loc);
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> parallelDims, reductionDims;
  for (auto [dim, kind] : llvm::enumerate(iterators))
    (kind == utils::IteratorType::parallel ? parallelDims : reductionDims)
        .push_back(dim);
  auto size = [&](unsigned dim) {
    return getValueOrCreateConstantIndexOp(b, loc, ranges[dim].size);
  };

  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  for (unsigned dim : parallelDims)
    total = arith::MulIOp::create(b, loc, total, size(dim));
  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value id = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(
          b, loc, block,
          arith::ConstantIndexOp::create(b, loc, kThreadsPerBlock)),
      thread);
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, id, total);
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&guard.getThenRegion().front());

  // The parallel point, innermost dim fastest.
  SmallVector<Value> ivs(iterators.size());
  Value rest = id;
  for (unsigned dim : llvm::reverse(parallelDims)) {
    Value extent = size(dim);
    ivs[dim] = arith::RemUIOp::create(b, loc, rest, extent);
    rest = arith::DivUIOp::create(b, loc, rest, extent);
  }

  Block *body = op.getBlock();
  auto operandValue = [&](OpOperand &operand, ValueRange at) -> Value {
    Value v = operand.get();
    if (!isa<MemRefType>(v.getType()))
      return v; // a scalar input, e.g. linalg.fill's value
    return memref::LoadOp::create(
        b, loc, v, applyMap(b, loc, op.getMatchingIndexingMap(&operand), at));
  };

  // The outputs' current values: the reductions' initial values.
  SmallVector<Value> inits;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    BlockArgument arg = op.getMatchingBlockArgument(&init);
    inits.push_back(arg.use_empty() && reductionDims.empty()
                        ? Value()
                        : operandValue(init, ivs));
  }

  auto cloneBody = [&](OpBuilder &nb, ValueRange loopIvs,
                       ValueRange acc) -> SmallVector<Value> {
    SmallVector<Value> all(ivs);
    for (auto [dim, iv] : llvm::zip(reductionDims, loopIvs))
      all[dim] = iv;
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
    IRMapping mapping;
    for (OpOperand *input : op.getDpsInputOperands())
      mapping.map(op.getMatchingBlockArgument(input),
                  operandValue(*input, all));
    for (auto [init, value] : llvm::zip(op.getDpsInitsMutable(), acc))
      if (value)
        mapping.map(op.getMatchingBlockArgument(&init), value);
    for (Operation &inner : body->without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        mapping.map(index.getResult(), all[index.getDim()]);
        continue;
      }
      b.clone(inner, mapping);
    }
    SmallVector<Value> results;
    for (Value v : body->getTerminator()->getOperands())
      results.push_back(mapping.lookupOrDefault(v));
    return results;
  };

  SmallVector<Value> results;
  if (reductionDims.empty()) {
    results = cloneBody(b, {}, inits);
  } else {
    SmallVector<Value> lbs, ubs, steps;
    for (unsigned dim : reductionDims) {
      lbs.push_back(arith::ConstantIndexOp::create(b, loc, 0));
      ubs.push_back(size(dim));
      steps.push_back(arith::ConstantIndexOp::create(b, loc, 1));
    }
    scf::LoopNest nest = scf::buildLoopNest(
        b, loc, lbs, ubs, steps, inits,
        [&](OpBuilder &nb, Location, ValueRange loopIvs, ValueRange acc) {
          return cloneBody(nb, loopIvs, acc);
        });
    results = nest.results;
  }
  for (auto [init, result] : llvm::zip(op.getDpsInitsMutable(), results))
    memref::StoreOp::create(
        b, loc, result, init.get(),
        applyMap(b, loc, op.getMatchingIndexingMap(&init), ivs));
}

struct LinalgToGPUPass : mf::impl::LinalgToGPUPassBase<LinalgToGPUPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::LinalgOp> ops;
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
        ops.push_back(linalgOp);
      return WalkResult::advance();
    });
    for (linalg::LinalgOp op : ops)
      if (failed(convert(module, op)))
        return signalPassFailure();
    if (failed(checkHostCode(module)))
      return signalPassFailure();
  }

  LogicalResult convert(ModuleOp module, linalg::LinalgOp op) {
    Location loc = op.getLoc();
    if (!op.hasPureBufferSemantics())
      return op->emitOpError()
             << "on tensors reached the generic GPU path; it runs after "
                "bufferization";

    // Kernel arguments: the operands, then values the region captures
    // (constants are cloned into the kernel instead).
    SetVector<Value> captured;
    getUsedValuesDefinedAbove(op->getRegion(0), captured);
    SmallVector<Value> args(op->getOperands());
    SmallVector<Operation *> constants;
    for (Value v : captured) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(def);
      else
        args.push_back(v);
    }

    // The tensor-core kernels' module, so that a module has one device
    // binary.
    if (!kernels) {
      kernels = module.lookupSymbol<gpu::GPUModuleOp>("mf_kernels");
      // Numbered on from the tensor-core kernels.
      if (kernels)
        counter = llvm::range_size(kernels.getOps<gpu::GPUFuncOp>());
    }
    if (!kernels) {
      module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                      UnitAttr::get(&getContext()));
      OpBuilder mb(&getContext());
      mb.setInsertionPointToEnd(module.getBody());
      kernels = gpu::GPUModuleOp::create(mb, module.getLoc(), "mf_kernels");
    }
    auto func = op->getParentOfType<FunctionOpInterface>();
    std::string name = (func ? func.getName().str() : "kernel") + "_" +
                       op->getName().stripDialect().str() + "_" +
                       std::to_string(counter++);
    OpBuilder mb(&getContext());
    auto kernel = gpu::GPUFuncOp::create(
        mb, loc, name,
        FunctionType::get(&getContext(), ValueRange(args).getTypes(), {}));
    SymbolTable(kernels).insert(kernel); // renamed if the name is taken
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), mb.getUnitAttr());
    kernel.setKnownBlockSizeAttr(mb.getDenseI32ArrayAttr(
        {static_cast<int32_t>(kThreadsPerBlock), 1, 1}));

    OpBuilder kb(&kernel.getBody().front(), kernel.getBody().front().begin());
    IRMapping mapping;
    mapping.map(args, kernel.getArguments());
    for (Operation *constant : constants)
      kb.clone(*constant, mapping);
    auto inKernel = cast<linalg::LinalgOp>(kb.clone(*op, mapping));
    buildKernelBody(kb, loc, inKernel);
    kb.setInsertionPointToEnd(&kernel.getBody().front());
    gpu::ReturnOp::create(kb, loc);
    inKernel->erase();

    // Host: one thread per parallel point.
    OpBuilder b(op);
    SmallVector<Range> ranges = op.createLoopRanges(b, loc);
    Value total = arith::ConstantIndexOp::create(b, loc, 1);
    for (auto [range, kind] : llvm::zip(ranges, op.getIteratorTypesArray()))
      if (kind == utils::IteratorType::parallel)
        total = arith::MulIOp::create(
            b, loc, total, getValueOrCreateConstantIndexOp(b, loc, range.size));
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value one = cst(1), threads = cst(kThreadsPerBlock);
    Value blocks = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, total, cst(kThreadsPerBlock - 1)),
        threads);
    // An empty iteration space still launches one (idle) block: a zero grid
    // is a launch error.
    blocks = arith::MaxUIOp::create(b, loc, blocks, one);
    gpu::LaunchFuncOp::create(b, loc, kernel, {blocks, one, one},
                              {threads, one, one}, Value(), args);
    op->erase();
    return success();
  }

  /// Host code only allocates, reshapes and passes buffers to kernels.
  LogicalResult checkHostCode(ModuleOp module) {
    WalkResult result = module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      bool touchesMemory = isa<memref::LoadOp, memref::StoreOp, memref::CopyOp,
                               affine::AffineLoadOp, affine::AffineStoreOp,
                               vector::TransferReadOp, vector::TransferWriteOp,
                               vector::LoadOp, vector::StoreOp>(op);
      bool onTensors =
          !isa<func::FuncOp>(op) &&
          (llvm::any_of(op->getOperandTypes(), llvm::IsaPred<TensorType>) ||
           llvm::any_of(op->getResultTypes(), llvm::IsaPred<TensorType>));
      if (touchesMemory || onTensors) {
        op->emitOpError()
            << (onTensors ? "on tensors was left in host code"
                          : "reads or writes memory in host code")
            << ": on a GPU target every buffer is device memory, which only "
               "kernels touch";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }

  gpu::GPUModuleOp kernels;
  int counter = 0;
};

} // namespace
