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

#include "mlir/Analysis/SliceAnalysis.h"
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
/// Lanes that share one output point in the cooperative form (a warp on
/// NVIDIA, half a wave64 on CDNA, a wave32 on RDNA).
constexpr int64_t kGroupLanes = 32;

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

/// The combiner (e.g. arith.addf, arith.maximumf) of `op` when its points
/// are better computed by kGroupLanes lanes each: one 32-bit output reduced
/// by a single neutral-element combiner over at least kMinCooperative
/// points (or a dynamic number), with every input walking a reduction dim
/// innermost (layernorm statistics, softmax maxima and sums over keys), so
/// the lanes read consecutive elements and a few points no longer mean a
/// few threads. Else null: one thread per point. (H200: a head-dim 32 q.k
/// took 1.8x longer with 32 lanes per score than with one thread.)
constexpr int64_t kMinCooperative = 128;
Operation *cooperativeCombiner(linalg::LinalgOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0)
    return nullptr;
  int64_t count = 1;
  for (auto [extent, kind] :
       llvm::zip(op.getStaticLoopRanges(), op.getIteratorTypesArray()))
    if (kind == utils::IteratorType::reduction)
      count = ShapedType::isDynamic(extent) || ShapedType::isDynamic(count)
                  ? ShapedType::kDynamic
                  : count * extent;
  if (!ShapedType::isDynamic(count) && count < kMinCooperative)
    return nullptr;
  OpOperand *init = op.getDpsInitOperand(0);
  Type elem = getElementTypeOrSelf(init->get().getType());
  if (!elem.isF32() && !elem.isInteger(32))
    return nullptr;
  BlockArgument acc = op.getMatchingBlockArgument(init);
  SmallVector<Operation *> combiners;
  if (!acc.hasOneUse() || !matchReduction({acc}, 0, combiners) ||
      combiners.size() != 1 || combiners[0]->getNumOperands() != 2 ||
      !arith::getNeutralElement(combiners[0]))
    return nullptr;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!isa<MemRefType>(input->get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumResults() == 0)
      continue;
    auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
    if (!last ||
        iterators[last.getPosition()] != utils::IteratorType::reduction)
      return nullptr;
  }
  return combiners[0];
}

/// Builds the body of the kernel for `op`, a clone of the host op whose
/// operands are the kernel's arguments: thread (or group of lanes, with a
/// `combiner`) -> parallel point, loads, the reduction loops around the
/// cloned region, stores.
void buildKernelBody(OpBuilder &b, Location loc, linalg::LinalgOp op,
                     Operation *combiner) {
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
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value id, lane;
  if (combiner) {
    lane = arith::RemUIOp::create(b, loc, thread, cst(kGroupLanes));
    id = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, block,
                              cst(kThreadsPerBlock / kGroupLanes)),
        arith::DivUIOp::create(b, loc, thread, cst(kGroupLanes)));
  } else {
    id = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, block, cst(kThreadsPerBlock)),
        thread);
  }
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
    if (combiner)
      break; // loaded by lane 0 at the end
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
  if (combiner) {
    // Lane l folds reduction points l, l + 32, ... (innermost dim fastest,
    // so the lanes read consecutive elements), then the lanes' partials are
    // combined by xor shuffles and lane 0 folds in the initial value.
    auto combine = [&](Value x, Value y) {
      Operation *op = b.clone(*combiner);
      op->setOperands({x, y});
      return op->getResult(0);
    };
    Value count = cst(1);
    for (unsigned dim : reductionDims)
      count = arith::MulIOp::create(b, loc, count, size(dim));
    Value neutral =
        arith::ConstantOp::create(b, loc, *arith::getNeutralElement(combiner));
    auto loop = scf::ForOp::create(
        b, loc, lane, count, cst(kGroupLanes), ValueRange{neutral},
        [&](OpBuilder &nb, Location, Value r, ValueRange acc) {
          SmallVector<Value> loopIvs(reductionDims.size());
          Value rest = r;
          for (int64_t i = reductionDims.size() - 1; i >= 0; --i) {
            Value extent = size(reductionDims[i]);
            loopIvs[i] = arith::RemUIOp::create(nb, loc, rest, extent);
            rest = arith::DivUIOp::create(nb, loc, rest, extent);
          }
          scf::YieldOp::create(nb, loc, cloneBody(nb, loopIvs, acc));
        });
    b.setInsertionPointAfter(loop);
    Value partial = loop.getResult(0);
    Value width = arith::ConstantIntOp::create(b, loc, kGroupLanes, 32);
    for (int64_t offset = kGroupLanes / 2; offset > 0; offset /= 2) {
      Value other =
          gpu::ShuffleOp::create(
              b, loc, partial, arith::ConstantIntOp::create(b, loc, offset, 32),
              width, gpu::ShuffleMode::XOR)
              .getShuffleResult();
      partial = combine(partial, other);
    }
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, cst(0));
    auto store = scf::IfOp::create(b, loc, first, /*withElseRegion=*/false);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    OpOperand *init = op.getDpsInitOperand(0);
    results = {combine(operandValue(*init, ivs), partial)};
  } else if (reductionDims.empty()) {
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
    buildKernelBody(kb, loc, inKernel, cooperativeCombiner(inKernel));
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
    int64_t pointsPerBlock = cooperativeCombiner(op)
                                 ? kThreadsPerBlock / kGroupLanes
                                 : kThreadsPerBlock;
    Value blocks = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, total, cst(pointsPerBlock - 1)),
        cst(pointsPerBlock));
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
