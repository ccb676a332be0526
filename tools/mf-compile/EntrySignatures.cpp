//===- EntrySignatures.cpp - manifest signatures of entry points ----------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "EntrySignatures.h"

#include "mf/Dialect/Evo/IR/EvoOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/ADT/EquivalenceClasses.h"

using namespace mlir;
using namespace mf::evo;

namespace {

/// A dim of a tensor value.
using DimKey = std::pair<Value, int64_t>;

/// Union-find over the dims of the tensors of one function.
class DimClasses {
public:
  void unite(DimKey a, DimKey b) {
    if (isStatic(a) || isStatic(b))
      return;
    classes.unionSets(key(a), key(b));
  }
  /// The class leader of a dynamic dim.
  unsigned leader(DimKey a) { return classes.getLeaderValue(key(a)); }
  /// Records that index value `v` is the size of dim `d`.
  void recordSize(Value v, DimKey d) {
    auto [it, inserted] = sizeOf.try_emplace(v, d);
    if (!inserted)
      unite(it->second, d);
  }
  /// The dim whose size `v` is, if known.
  std::optional<DimKey> sizeDim(Value v) {
    auto it = sizeOf.find(v);
    if (it == sizeOf.end())
      return std::nullopt;
    return it->second;
  }

private:
  static bool isStatic(DimKey a) {
    return !cast<ShapedType>(a.first.getType()).isDynamicDim(a.second);
  }
  unsigned key(DimKey a) {
    auto [it, inserted] = ids.try_emplace(a, ids.size());
    if (inserted)
      classes.insert(it->second);
    return it->second;
  }
  llvm::DenseMap<DimKey, unsigned> ids;
  llvm::EquivalenceClasses<unsigned> classes;
  llvm::DenseMap<Value, DimKey> sizeOf;
};

/// The relations between operand and result dims that evo ops impose.
static void uniteEvoDims(Operation *op, DimClasses &dims) {
  auto same = [&](Value a, Value b, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      dims.unite({a, i}, {b, i});
  };
  if (auto attn = dyn_cast<PairBiasAttentionOp>(op)) {
    Value q = attn.getQ();
    for (Value v : {attn.getK(), attn.getV(), attn.getGate(), attn.getOut()})
      if (v)
        same(q, v, 5);
    if (Value m = attn.getMask()) {
      dims.unite({m, 0}, {q, 0});
      dims.unite({m, 1}, {q, 1});
      dims.unite({m, 4}, {q, 2});
    }
    if (Value b = attn.getBias()) {
      dims.unite({b, 0}, {q, 0});
      dims.unite({b, 2}, {q, 3});
      dims.unite({b, 3}, {q, 2});
      dims.unite({b, 4}, {q, 2});
    }
    if (Value lse = attn.getLse()) {
      dims.unite({lse, 0}, {q, 0});
      dims.unite({lse, 1}, {q, 1});
      dims.unite({lse, 2}, {q, 3});
      dims.unite({lse, 3}, {q, 2});
    }
    return;
  }
  // The other ops map x [..., C] to y [..., C'] with the leading dims kept.
  if (isa<LayerNormOp, LinearOp, LayerNormLinearOp, SwiGLUOp, TransitionOp>(
          op)) {
    Value x = op->getOperand(0), y = op->getResult(0);
    same(x, y, cast<ShapedType>(x.getType()).getRank() - 1);
  }
}

/// Operand dims of a linalg op that index the same loop are equal.
static void uniteLinalgDims(linalg::LinalgOp op, DimClasses &dims) {
  llvm::DenseMap<unsigned, DimKey> loopDim;
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<RankedTensorType>(operand.get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (auto [i, expr] : llvm::enumerate(map.getResults()))
      if (auto d = dyn_cast<AffineDimExpr>(expr)) {
        DimKey key{operand.get(), static_cast<int64_t>(i)};
        auto [it, inserted] = loopDim.try_emplace(d.getPosition(), key);
        if (!inserted)
          dims.unite(it->second, key);
      }
  }
}

} // namespace

/// The manifest spelling of a supported element type, or "".
static std::string dtypeName(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF64())
    return "f64";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isInteger(1))
    return "i1";
  if (type.isInteger(8))
    return "i8";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(64))
    return "i64";
  return "";
}

llvm::FailureOr<std::vector<mf::EntrySignature>> mf::computeEntrySignatures(
    ModuleOp module,
    const llvm::DenseMap<llvm::StringRef, std::vector<std::string>> &argNames) {
  std::vector<EntrySignature> entries;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    DimClasses dims;
    // Relate dims through the ops; reification adds tensor.dim ops, which is
    // why this runs on a copy of the module.
    OpBuilder builder(func.getContext());
    func.walk([&](Operation *op) {
      if (auto dim = dyn_cast<tensor::DimOp>(op)) {
        if (std::optional<int64_t> index = dim.getConstantIndex())
          dims.recordSize(dim.getResult(), {dim.getSource(), *index});
        return;
      }
      uniteEvoDims(op, dims);
      // A reshape keeps every dim that is alone in its reassociation group.
      auto uniteReshape = [&](Value collapsed, Value expanded,
                              ArrayRef<ReassociationIndices> groups) {
        for (auto [i, group] : llvm::enumerate(groups))
          if (group.size() == 1)
            dims.unite({collapsed, static_cast<int64_t>(i)},
                       {expanded, group.front()});
      };
      if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
        uniteReshape(expand.getSrc(), expand.getResult(),
                     expand.getReassociationIndices());
      if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
        uniteReshape(collapse.getResult(), collapse.getSrc(),
                     collapse.getReassociationIndices());
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
        uniteLinalgDims(linalgOp, dims);
      if (op->hasTrait<OpTrait::Elementwise>() ||
          op->hasTrait<OpTrait::SameOperandsAndResultShape>()) {
        SmallVector<Value> tensors;
        for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
          if (isa<RankedTensorType>(v.getType()))
            tensors.push_back(v);
        for (Value v : tensors)
          for (int64_t i = 0, e = cast<ShapedType>(v.getType()).getRank();
               i < e; ++i)
            dims.unite({tensors.front(), i}, {v, i});
      }
      if (auto reify = dyn_cast<ReifyRankedShapedTypeOpInterface>(op)) {
        builder.setInsertionPoint(op);
        ReifiedRankedShapedTypeDims shapes;
        if (failed(reify.reifyResultShapes(builder, shapes)))
          return;
        for (auto [result, sizes] : llvm::zip(op->getResults(), shapes))
          for (auto [i, size] : llvm::enumerate(sizes)) {
            auto value = dyn_cast<Value>(size);
            if (!value)
              continue;
            DimKey key{result, static_cast<int64_t>(i)};
            if (auto dim = value.getDefiningOp<tensor::DimOp>()) {
              if (std::optional<int64_t> index = dim.getConstantIndex())
                dims.unite(key, {dim.getSource(), *index});
            } else if (std::optional<DimKey> d = dims.sizeDim(value)) {
              dims.unite(key, *d);
            }
          }
      }
    });

    EntrySignature entry;
    entry.name = func.getName().str();
    auto namesIt = argNames.find(func.getName());
    llvm::DenseMap<unsigned, std::string> symbolOf;
    auto describe = [&](Value value, Type type, std::string name,
                        bool isOutput) -> LogicalResult {
      auto tensorType = dyn_cast<RankedTensorType>(type);
      std::string dtype =
          tensorType ? dtypeName(tensorType.getElementType()) : "";
      if (dtype.empty())
        return func.emitError()
               << "entry point '" << func.getName() << "' "
               << (isOutput ? "result" : "argument") << " '" << name
               << "' must be a ranked tensor of f32, f64, "
                  "f16, bf16, i1, i8, i32 or i64 but is "
               << type;
      ArgSignature arg{name, isOutput, dtype, {}, {}};
      for (int64_t i = 0, e = tensorType.getRank(); i < e; ++i) {
        if (!tensorType.isDynamicDim(i)) {
          arg.dims.push_back(tensorType.getDimSize(i));
          arg.symbols.push_back("");
          continue;
        }
        arg.dims.push_back(-1);
        unsigned leader = dims.leader({value, i});
        auto [it, inserted] = symbolOf.try_emplace(leader);
        if (inserted) {
          if (isOutput)
            return func.emitError()
                   << "entry point '" << func.getName() << "' result '" << name
                   << "' dim " << i
                   << " cannot be related to any input dim; make it static "
                      "or derive it from an input";
          it->second = name + "." + std::to_string(i);
        }
        arg.symbols.push_back(it->second);
      }
      entry.args.push_back(std::move(arg));
      return success();
    };
    for (BlockArgument arg : func.getArguments()) {
      std::string name = "arg" + std::to_string(arg.getArgNumber());
      if (namesIt != argNames.end() &&
          arg.getArgNumber() < namesIt->second.size())
        name = namesIt->second[arg.getArgNumber()];
      if (failed(describe(arg, arg.getType(), name, /*isOutput=*/false)))
        return failure();
    }
    auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
    for (auto [i, value] : llvm::enumerate(ret.getOperands()))
      if (failed(describe(value, value.getType(), "result" + std::to_string(i),
                          /*isOutput=*/true)))
        return failure();
    entries.push_back(std::move(entry));
  }
  return entries;
}
