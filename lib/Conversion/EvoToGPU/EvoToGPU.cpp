//===- EvoToGPU.cpp - evo ops to launches of generated kernels ------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Host side of the cuda target: each evo op becomes to_buffer of its
// operands, a buffer per result, one gpu.launch_func and to_tensor of the
// results. The kernels themselves are built by AttentionKernel.cpp and
// GemmKernels.cpp into the gpu.module @mf_kernels.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"
#include "TuningTable.h"

#include "mf/Conversion/Passes.h"
#include "mf/Dialect/Evo/IR/EvoOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mf {
#define GEN_PASS_DEF_CONVERTEVOTOGPUPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;
using namespace mf::gpu_kernels;

namespace {

MemRefType bufferType(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return MemRefType::get(type.getShape(), type.getElementType());
}

Value toBuffer(OpBuilder &b, Location loc, Value tensor) {
  return bufferization::ToBufferOp::create(b, loc, bufferType(tensor), tensor,
                                           /*read_only=*/true);
}

/// A fresh buffer of `type` whose dynamic sizes are taken from `sizes`.
Value allocate(OpBuilder &b, Location loc, RankedTensorType type,
               ArrayRef<OpFoldResult> sizes) {
  SmallVector<Value> dynamic;
  for (auto [i, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamic.push_back(getValueOrCreateConstantIndexOp(b, loc, sizes[i]));
  return memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), dynamic);
}

Value toTensor(OpBuilder &b, Location loc, Value buffer,
               RankedTensorType type) {
  return bufferization::ToTensorOp::create(b, loc, type, buffer,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

/// x [..., C] as [M, C].
Value collapseRows(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() == 2)
    return x;
  ReassociationIndices rows;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    rows.push_back(i);
  return tensor::CollapseShapeOp::create(
      b, loc, x, SmallVector<ReassociationIndices>{rows, {type.getRank() - 1}});
}

Value expandRows(OpBuilder &b, Location loc, Value y2d, RankedTensorType type,
                 ArrayRef<OpFoldResult> sizes) {
  if (type.getRank() == 2)
    return y2d;
  ReassociationIndices rows;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    rows.push_back(i);
  return tensor::ExpandShapeOp::create(
      b, loc, type, y2d,
      SmallVector<ReassociationIndices>{rows, {type.getRank() - 1}}, sizes);
}

/// The transition kernel accumulates a 16 x C output tile per warp in
/// registers: 128 f32 registers per lane at C = 256 (C = 384 spills).
constexpr int64_t kMaxTransitionChannels = 256;

struct ConvertEvoToGPUPass
    : public mf::impl::ConvertEvoToGPUPassBase<ConvertEvoToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::Expected<TuningTable> table = tuningTable.empty()
                                            ? TuningTable::builtin()
                                            : TuningTable::load(tuningTable);
    if (!table) {
      module.emitError(llvm::toString(table.takeError()));
      return signalPassFailure();
    }
    this->table = &*table;
    if (target != "cuda" && target != "rocm") {
      module.emitError() << "convert-evo-to-gpu: unknown target '" << target
                         << "' (expected cuda or rocm)";
      return signalPassFailure();
    }
    if (target == "rocm" && chip != "gfx90a" && chip != "gfx942" &&
        chip != "gfx1100") {
      module.emitError() << "convert-evo-to-gpu: no kernels for " << chip
                         << " (the rocm target has MFMA kernels for gfx90a "
                            "and gfx942 and WMMA kernels for gfx1100)";
      return signalPassFailure();
    }

    fuseSharedLayerNorms(module);
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<mf::evo::EvoDialect>(op->getDialect()))
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    OpBuilder mb(&getContext());
    mb.setInsertionPointToEnd(module.getBody());
    kernels = gpu::GPUModuleOp::create(mb, module.getLoc(), "mf_kernels");

    if (f32AsBf16)
      for (Operation *&op : ops)
        if (Operation *narrowed = narrowToBf16(op))
          op = narrowed;
    for (Operation *op : ops) {
      LogicalResult converted =
          llvm::TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](mf::evo::PairBiasAttentionOp a) {
                return convertAttention(a);
              })
              .Case([&](mf::evo::LayerNormLinearOp l) {
                return convertLinear(l, l.getX(), l.getGamma(), l.getBeta(),
                                     l.getWeight(), l.getBias(),
                                     l.getEps().convertToDouble());
              })
              .Case([&](mf::evo::LinearOp l) {
                return convertLinear(l, l.getX(), Value(), Value(),
                                     l.getWeight(), l.getBias(), 0.0);
              })
              .Case(
                  [&](mf::evo::TransitionOp t) { return convertTransition(t); })
              .Default([&](Operation *other) {
                return noKernel(
                    other,
                    "it has no tensor-core kernel (those run "
                    "pair_bias_attention, layernorm_linear, linear and "
                    "transition; fusion makes layernorm + linear and the "
                    "transition chain into those)");
              });
      if (failed(converted))
        return signalPassFailure();
    }
    if (kernels.getBody()->getOperations().empty())
      kernels.erase();
    if (!generic && failed(checkHostOps(module)))
      return signalPassFailure();
  }

private:
  /// A layernorm whose every use is a linear that a tensor-core kernel
  /// runs (the triangle updates' q, k, v, gate and bias projections): each
  /// linear becomes a layernorm_linear, recomputing the normalization in
  /// its GEMM prologue, where it costs registers, not memory traffic, and
  /// the normalized tensor is never written. (evo-fuse-layernorm-linear
  /// fuses only a layernorm with one use: on the CPU the recomputation is
  /// not free.)
  void fuseSharedLayerNorms(ModuleOp module) {
    SmallVector<mf::evo::LayerNormOp> norms;
    module.walk([&](mf::evo::LayerNormOp norm) { norms.push_back(norm); });
    for (mf::evo::LayerNormOp norm : norms) {
      if (norm->use_empty() || norm->hasOneUse())
        continue; // a single use is evo-fuse-layernorm-linear's
      auto xType = norm.getX().getType();
      Type elem = xType.getElementType();
      if (f32AsBf16 && elem.isF32())
        elem = BFloat16Type::get(&getContext());
      std::string why;
      if (!gemmSupported(elem, xType.getShape().back(), why))
        continue;
      Type normElem = norm.getX().getType().getElementType();
      bool allLinears = llvm::all_of(norm->getUsers(), [&](Operation *user) {
        auto linear = dyn_cast<mf::evo::LinearOp>(user);
        return linear && linear.getX() == norm.getResult() &&
               linear.getWeight().getType().getElementType() == normElem &&
               (!linear.getBias() ||
                linear.getBias().getType().getElementType() == normElem);
      });
      if (!allLinears)
        continue;
      for (Operation *user : llvm::make_early_inc_range(norm->getUsers())) {
        auto linear = cast<mf::evo::LinearOp>(user);
        OpBuilder b(linear);
        auto fused = mf::evo::LayerNormLinearOp::create(
            b, linear.getLoc(), linear.getType(), norm.getX(), norm.getGamma(),
            norm.getBeta(), linear.getWeight(), linear.getBias(),
            norm.getEpsAttr());
        linear.getResult().replaceAllUsesWith(fused.getResult());
        linear.erase();
      }
      norm.erase();
    }
  }

  /// With f32-as-bf16: an f32 evo op that a tensor-core kernel runs in
  /// bf16 becomes that bf16 op between arith.truncf of its float operands
  /// and arith.extf of its results (the logsumexp stays f32); the casts go
  /// to the generic path, fused with their neighbours. Returns the new op,
  /// or null when `op` stays as it is.
  Operation *narrowToBf16(Operation *op) {
    Type f32 = Float32Type::get(op->getContext());
    Type bf16 = BFloat16Type::get(op->getContext());
    auto elementOf = [](Value v) { return getElementTypeOrSelf(v.getType()); };
    std::string why;
    bool runs =
        llvm::TypeSwitch<Operation *, bool>(op)
            .Case([&](mf::evo::PairBiasAttentionOp a) {
              return elementOf(a.getQ()) == f32 &&
                     attentionKernelSupports(
                         bf16, a.getQ().getType().getDimSize(4), why);
            })
            .Case<mf::evo::LayerNormLinearOp, mf::evo::LinearOp>([&](Operation
                                                                         *l) {
              Value x = l->getOperand(0);
              return elementOf(x) == f32 &&
                     gemmSupported(
                         bf16,
                         cast<RankedTensorType>(x.getType()).getShape().back(),
                         why);
            })
            .Case([&](mf::evo::TransitionOp t) {
              std::optional<GemmTiles> tiles = table->transition(chip);
              int64_t f = t.getWDown().getType().getDimSize(1);
              return elementOf(t.getX()) == f32 && tiles &&
                     f % tiles->blockN == 0 &&
                     t.getX().getType().getShape().back() <=
                         kMaxTransitionChannels &&
                     gemmSupported(bf16, t.getX().getType().getShape().back(),
                                   why);
            })
            .Default([](Operation *) { return false; });
    if (!runs || !llvm::all_of(op->getOperands(), [&](Value v) {
          Type e = elementOf(v);
          return e == f32 || e.isInteger(1);
        }))
      return nullptr;
    OpBuilder b(op);
    Location loc = op->getLoc();
    SmallVector<Value> operands;
    for (Value v : op->getOperands()) {
      auto type = cast<RankedTensorType>(v.getType());
      operands.push_back(
          type.getElementType() == f32
              ? arith::TruncFOp::create(b, loc, type.clone(bf16), v)
              : v);
    }
    Operation *narrow = b.clone(*op);
    narrow->setOperands(operands);
    b.setInsertionPointAfter(narrow);
    for (OpResult result : narrow->getResults()) {
      bool isLse = isa<mf::evo::PairBiasAttentionOp>(op) &&
                   result.getResultNumber() == 1;
      Value widened = result;
      if (!isLse) {
        auto type = cast<RankedTensorType>(result.getType());
        result.setType(type.clone(bf16));
        widened = arith::ExtFOp::create(b, loc, type, result);
      }
      op->getResult(result.getResultNumber()).replaceAllUsesWith(widened);
    }
    op->erase();
    return narrow;
  }

  /// `op` cannot take a tensor-core kernel: leave it to the generic path,
  /// or fail when that is off.
  LogicalResult noKernel(Operation *op, const Twine &why) {
    if (generic) {
      if (reportGeneric)
        op->emitRemark() << "runs on the generic kernels (no tensor cores): "
                         << why;
      return success();
    }
    return op->emitOpError()
           << "cannot run on the " << target << " target: " << why;
  }

  std::string kernelName(Operation *op, StringRef kind) {
    auto func = op->getParentOfType<FunctionOpInterface>();
    return (func ? func.getName().str() : std::string("kernel")) + "_" +
           kind.str() + "_" + std::to_string(counter++);
  }

  SmallVector<OpFoldResult> resultSizes(Operation *op, unsigned result) {
    OpBuilder b(op);
    ReifiedRankedShapedTypeDims dims;
    if (failed(reifyResultShapes(b, op, dims)))
      return {};
    return dims[result];
  }

  /// gemmKernelSupports for this target: the WMMA kernels hold a whole row
  /// of x per lane and spill past 256 channels (gfx1100: 1.3 KB of scratch
  /// at 384).
  bool gemmSupported(Type elem, int64_t channels, std::string &why) const {
    if (!gemmKernelSupports(elem, channels, why))
      return false;
    if (useWmma() && channels > 256) {
      why = "the WMMA GEMM kernels take at most 256 input channels";
      return false;
    }
    return true;
  }

  /// RDNA3 (wave32, WMMA) rather than CDNA (wave64, MFMA).
  bool useWmma() const { return target == "rocm" && chip == "gfx1100"; }

  int64_t threadsFor(int64_t rows) const {
    if (target != "rocm")
      return rows / 16 * 32;
    return useWmma() ? wmmaThreadsPerBlock(rows) : amdThreadsPerBlock(rows);
  }

  LogicalResult convertAttention(mf::evo::PairBiasAttentionOp op) {
    auto qType = op.getQ().getType();
    Type elem = qType.getElementType();
    int64_t heads = qType.getDimSize(3), headDim = qType.getDimSize(4);
    std::string why;
    if (!attentionKernelSupports(elem, headDim, why))
      return noKernel(op, why);
    std::optional<AttentionTiles> tiles = table->attention(chip, headDim);
    if (!tiles)
      return op.emitOpError() << "the tuning table has no attention entry "
                                 "for chip "
                              << chip << " and head dim " << headDim;
    const bool rocm = target == "rocm";
    if (rocm) {
      // The MFMA kernel takes one S row per block and stages the key mask
      // with one lane per key.
      tiles->sGroup = 1;
      if (!useWmma() && tiles->blockK > amdThreadsPerBlock(tiles->blockQ))
        return op.emitOpError() << "the rocm attention kernel needs block_k <= "
                                   "its threads per block";
    }

    Location loc = op.getLoc();
    AttentionSpec spec;
    spec.elemType = elem;
    spec.heads = heads;
    spec.headDim = headDim;
    spec.hasMask = static_cast<bool>(op.getMask());
    spec.hasBias = static_cast<bool>(op.getBias());
    spec.hasGate = static_cast<bool>(op.getGate());
    spec.hasLse = static_cast<bool>(op.getLse());
    spec.scale = op.getScaleValue();

    SmallVector<OpFoldResult> outSizes = resultSizes(op, 0);
    SmallVector<OpFoldResult> lseSizes =
        spec.hasLse ? resultSizes(op, 1) : SmallVector<OpFoldResult>();
    OpBuilder b(op);
    SmallVector<Value> args;
    for (Value operand : op->getOperands())
      args.push_back(toBuffer(b, loc, operand));
    Value out = allocate(b, loc, op.getOut().getType(), outSizes);
    args.push_back(out);
    Value lse;
    if (spec.hasLse) {
      lse = allocate(b, loc, op.getLse().getType(), lseSizes);
      args.push_back(lse);
    }
    for (Value a : args)
      spec.argTypes.push_back(a.getType());

    gpu::GPUFuncOp kernel = (!rocm       ? buildAttentionKernel
                             : useWmma() ? buildAttentionKernelWMMA
                                         : buildAttentionKernelMFMA)(
        kernels, kernelName(op, "attention"), spec, *tiles, loc);
    Value s = tensor::DimOp::create(b, loc, op.getQ(), 1);
    Value n = tensor::DimOp::create(b, loc, op.getQ(), 2);
    Value batch = tensor::DimOp::create(b, loc, op.getQ(), 0);
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    auto ceilDiv = [&](Value x, int64_t y) -> Value {
      return arith::DivUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, x, cst(y - 1)), cst(y));
    };
    gpu::KernelDim3 grid{
        ceilDiv(n, tiles->blockQ), cst(heads),
        arith::MulIOp::create(b, loc, batch, ceilDiv(s, tiles->sGroup))};
    int64_t threads = threadsFor(tiles->blockQ);
    gpu::KernelDim3 block{cst(threads), cst(1), cst(1)};
    gpu::LaunchFuncOp::create(b, loc, kernel, grid, block, Value(), args);

    SmallVector<Value> results = {toTensor(b, loc, out, op.getOut().getType())};
    if (spec.hasLse)
      results.push_back(toTensor(b, loc, lse, op.getLse().getType()));
    op->replaceAllUsesWith(results);
    op->erase();
    return success();
  }

  /// Launches the row-block kernel `kernel` over x2d's rows and returns the
  /// [M, cols] result as a tensor.
  Value launchRows(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel,
                   ArrayRef<Value> args, int64_t blockM) {
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value rows = memref::DimOp::create(b, loc, args.front(), 0);
    Value blocks = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, rows, cst(blockM - 1)),
        cst(blockM));
    gpu::KernelDim3 grid{blocks, cst(1), cst(1)};
    int64_t threads = threadsFor(blockM);
    gpu::KernelDim3 block{cst(threads), cst(1), cst(1)};
    gpu::LaunchFuncOp::create(b, loc, kernel, grid, block, Value(), args);
    return args.back();
  }

  LogicalResult convertLinear(Operation *op, Value x, Value gamma, Value beta,
                              Value weight, Value bias, double eps) {
    auto xType = cast<RankedTensorType>(x.getType());
    auto yType = cast<RankedTensorType>(op->getResult(0).getType());
    Type elem = xType.getElementType();
    int64_t c = xType.getShape().back(), nOut = yType.getShape().back();
    std::string why;
    if (!gemmSupported(elem, c, why))
      return noKernel(op, why);
    for (Value v : {gamma, beta, weight, bias})
      if (v && cast<RankedTensorType>(v.getType()).getElementType() != elem)
        return noKernel(op, "the tensor-core kernel needs every operand in "
                            "the element type of x");
    std::optional<GemmTiles> tiles = table->layerNormLinear(chip, nOut);
    if (!tiles)
      return op->emitOpError()
             << "the tuning table has no layernorm_linear entry for chip "
             << chip;
    // Over 256 input channels (AF3's c_s = 384) the weight tile staged for
    // the whole row would pass 48 KiB of shared memory at 64 outputs.
    if (c > kMaxTransitionChannels)
      tiles->blockN = std::min<int64_t>(tiles->blockN, 32);
    Location loc = op->getLoc();
    SmallVector<OpFoldResult> ySizes = resultSizes(op, 0);
    OpBuilder b(op);
    Value x2d = collapseRows(b, loc, x);
    SmallVector<Value> args = {toBuffer(b, loc, x2d)};
    for (Value v : {gamma, beta, weight, bias})
      if (v)
        args.push_back(toBuffer(b, loc, v));
    Value rows = tensor::DimOp::create(b, loc, x2d, 0);
    auto y2dType = RankedTensorType::get(
        {cast<RankedTensorType>(x2d.getType()).getDimSize(0), nOut}, elem);
    Value out = allocate(b, loc, y2dType, {rows, b.getIndexAttr(nOut)});
    args.push_back(out);

    LayerNormLinearSpec spec;
    spec.elemType = elem;
    spec.inChannels = c;
    spec.outChannels = nOut;
    spec.normalize = static_cast<bool>(gamma);
    spec.hasBias = static_cast<bool>(bias);
    spec.eps = eps;
    for (Value a : args)
      spec.argTypes.push_back(a.getType());
    auto build = target != "rocm" ? buildLayerNormLinearKernel
                 : useWmma()      ? buildLayerNormLinearKernelWMMA
                                  : buildLayerNormLinearKernelMFMA;
    gpu::GPUFuncOp kernel =
        build(kernels, kernelName(op, gamma ? "layernorm_linear" : "linear"),
              spec, *tiles, loc);
    launchRows(b, loc, kernel, args, tiles->blockM);
    Value y = expandRows(b, loc, toTensor(b, loc, out, y2dType), yType, ySizes);
    op->getResult(0).replaceAllUsesWith(y);
    op->erase();
    return success();
  }

  LogicalResult convertTransition(mf::evo::TransitionOp op) {
    auto xType = op.getX().getType();
    Type elem = xType.getElementType();
    int64_t c = xType.getShape().back();
    int64_t f = op.getWDown().getType().getDimSize(1);
    std::string why;
    if (!gemmSupported(elem, c, why))
      return noKernel(op, why);
    if (c > kMaxTransitionChannels)
      return noKernel(op, "the transition kernel keeps a 16 x C accumulator "
                          "per warp: at most " +
                              Twine(kMaxTransitionChannels) + " channels");
    std::optional<GemmTiles> tiles = table->transition(chip);
    if (!tiles)
      return op.emitOpError()
             << "the tuning table has no transition entry for chip " << chip;
    if (f % tiles->blockN != 0)
      return noKernel(op, "hidden size " + Twine(f) +
                              " is not a multiple of the tile " +
                              Twine(tiles->blockN));
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> ySizes = resultSizes(op, 0);
    OpBuilder b(op);
    Value x2d = collapseRows(b, loc, op.getX());
    SmallVector<Value> args = {toBuffer(b, loc, x2d)};
    for (Value v : {op.getGamma(), op.getBeta(), op.getWUp(), op.getWDown()})
      args.push_back(toBuffer(b, loc, v));
    Value rows = tensor::DimOp::create(b, loc, x2d, 0);
    auto y2dType = RankedTensorType::get(
        {cast<RankedTensorType>(x2d.getType()).getDimSize(0), c}, elem);
    Value out = allocate(b, loc, y2dType, {rows, b.getIndexAttr(c)});
    args.push_back(out);

    TransitionSpec spec;
    spec.elemType = elem;
    spec.channels = c;
    spec.hidden = f;
    spec.eps = op.getEps().convertToDouble();
    for (Value a : args)
      spec.argTypes.push_back(a.getType());
    auto build = target != "rocm" ? buildTransitionKernel
                 : useWmma()      ? buildTransitionKernelWMMA
                                  : buildTransitionKernelMFMA;
    gpu::GPUFuncOp kernel =
        build(kernels, kernelName(op, "transition"), spec, *tiles, loc);
    launchRows(b, loc, kernel, args, tiles->blockM);
    Value y = expandRows(b, loc, toTensor(b, loc, out, y2dType),
                         op.getY().getType(), ySizes);
    op.getY().replaceAllUsesWith(y);
    op.erase();
    return success();
  }

  /// Without the generic path, host code may only move tensors between
  /// kernels.
  LogicalResult checkHostOps(ModuleOp module) {
    WalkResult result = module.walk([&](Operation *op) {
      if (op->getParentOfType<gpu::GPUModuleOp>() || isa<gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (isa<bufferization::ToBufferOp, bufferization::ToTensorOp,
              tensor::DimOp, tensor::CollapseShapeOp, tensor::ExpandShapeOp,
              func::ReturnOp, func::CallOp, tensor::EmptyOp>(op))
        return WalkResult::advance();
      auto isTensor = [](Type t) { return isa<TensorType>(t); };
      if (llvm::any_of(op->getOperandTypes(), isTensor) ||
          llvm::any_of(op->getResultTypes(), isTensor)) {
        op->emitOpError() << "on tensors is not supported by the " << target
                          << " target with generic=false: its host code only "
                             "passes tensors between kernels and reshapes "
                             "them";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }

  const TuningTable *table = nullptr;
  gpu::GPUModuleOp kernels;
  int counter = 0;
};

} // namespace
