//===- EvoOps.cpp - evo dialect ops ---------------------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Verifiers, result type inference and result shape reification of the evo
// ops. Inference is deliberately lenient (it only needs the ranks it reads);
// the verifiers check every shape relation of docs/DESIGN.md section 2 and
// explain the first one that fails.
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mf::evo;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Dim names of q, k, v and gate.
static constexpr StringLiteral kQkvDims[] = {"B", "S", "N", "H", "D"};
static constexpr StringLiteral kQkvLayout = "[B, S, N, H, D]";

static std::string formatDim(int64_t size) {
  return ShapedType::isDynamic(size) ? std::string("?") : std::to_string(size);
}

namespace {
/// Checks operand shapes against an op's shape table and reports the first
/// mismatch on the op: the operand, the dim and what it means, the expected
/// and the actual value. Dynamic dims agree with anything.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// `type` has rank `rank`; `layout` spells the dims, e.g. "[B, S, N, H, D]".
  LogicalResult hasRank(StringRef name, ShapedType type, int64_t rank,
                        StringRef layout) {
    if (type.getRank() == rank)
      return success();
    return op->emitOpError()
           << "expects " << name << " to have rank " << rank << " (" << layout
           << ") but got rank " << type.getRank();
  }

  /// `type` has rank `rank` or more; `layout` spells the dims.
  LogicalResult hasMinRank(StringRef name, ShapedType type, int64_t rank,
                           StringRef layout) {
    if (type.getRank() >= rank)
      return success();
    return op->emitOpError()
           << "expects " << name << " to have rank " << rank << " or more ("
           << layout << ") but got rank " << type.getRank();
  }

  /// Dim `dim` of `type`, called `dimName`, is static.
  LogicalResult isStatic(StringRef name, ShapedType type, int64_t dim,
                         StringRef dimName) {
    if (!type.isDynamicDim(dim))
      return success();
    return op->emitOpError()
           << "expects " << name << " dim " << dim << " (" << dimName
           << ") to be static: heads H, head dim D, channels C and hidden "
              "width F must be static (only B, S and N may be dynamic)";
  }

  /// Dim `dim` of `type`, called `dimName`, equals `expected`, which comes
  /// from `source`.
  LogicalResult dimMatches(StringRef name, ShapedType type, int64_t dim,
                           StringRef dimName, int64_t expected,
                           StringRef source) {
    int64_t actual = type.getDimSize(dim);
    if (ShapedType::isDynamic(actual) || ShapedType::isDynamic(expected) ||
        actual == expected)
      return success();
    return op->emitOpError() << "expects " << name << " dim " << dim << " ("
                             << dimName << ") to be " << expected << " ("
                             << source << ") but got " << actual;
  }

  /// Dim `dim` of `type` is exactly `expected` (a static placeholder dim such
  /// as the 1s of the mask layout); a dynamic dim does not qualify.
  LogicalResult dimIsExactly(StringRef name, ShapedType type, int64_t dim,
                             int64_t expected, StringRef layout) {
    int64_t actual = type.getDimSize(dim);
    if (actual == expected)
      return success();
    return op->emitOpError()
           << "expects " << name << " dim " << dim << " to be " << expected
           << " (" << layout << ") but got " << formatDim(actual);
  }

  /// The element type of `type` is `expected`, the element type of `source`.
  LogicalResult sameElementType(StringRef name, ShapedType type, Type expected,
                                StringRef source) {
    if (type.getElementType() == expected)
      return success();
    return op->emitOpError()
           << "expects " << name << " element type " << expected << " (as "
           << source << ") but got " << type.getElementType();
  }

  /// A float attribute is finite, and non-negative when `nonNegative`.
  LogicalResult isFinite(StringRef name, float value, bool nonNegative) {
    if (std::isfinite(value) && (!nonNegative || value >= 0.0f))
      return success();
    return op->emitOpError()
           << "expects " << name << " to be "
           << (nonNegative ? "finite and non-negative" : "finite")
           << " but got " << value;
  }

private:
  Operation *op;
};
} // namespace

/// The size of dim `dim` of `value` as an OpFoldResult: an index attribute
/// when static, a `tensor.dim` otherwise.
static OpFoldResult getDimSize(OpBuilder &builder, Location loc, Value value,
                               int64_t dim) {
  auto type = cast<ShapedType>(value.getType());
  if (!type.isDynamicDim(dim))
    return builder.getIndexAttr(type.getDimSize(dim));
  return tensor::DimOp::create(builder, loc, value, dim).getResult();
}

/// All dims of `value`.
static SmallVector<OpFoldResult> getDimSizes(OpBuilder &builder, Location loc,
                                             Value value) {
  auto type = cast<ShapedType>(value.getType());
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0, e = type.getRank(); i < e; ++i)
    sizes.push_back(getDimSize(builder, loc, value, i));
  return sizes;
}

/// Checks `[..., C]` with a static C, and gamma, beta of `[C]` with the
/// element type of x.
static LogicalResult verifyNormOperands(ShapeChecker &check, ShapedType x,
                                        ShapedType gamma, ShapedType beta) {
  if (failed(check.hasMinRank("x", x, 1, "[..., C]")) ||
      failed(check.isStatic("x", x, x.getRank() - 1, "C")))
    return failure();
  int64_t channels = x.getDimSize(x.getRank() - 1);
  for (auto [name, param] : {std::pair{"gamma", gamma}, {"beta", beta}}) {
    if (failed(check.hasRank(name, param, 1, "[C]")) ||
        failed(check.dimMatches(name, param, 0, "C", channels, "x dim -1")) ||
        failed(check.sameElementType(name, param, x.getElementType(), "x")))
      return failure();
  }
  return success();
}

/// Checks a weight `[Nout, K]` (both static) against x `[..., K]` and the
/// optional bias `[Nout]`.
static LogicalResult verifyLinearOperands(ShapeChecker &check, ShapedType x,
                                          ShapedType weight, ShapedType bias) {
  int64_t inFeatures = x.getDimSize(x.getRank() - 1);
  if (failed(check.hasRank("weight", weight, 2, "[Nout, K]")) ||
      failed(check.isStatic("weight", weight, 0, "Nout")) ||
      failed(check.isStatic("weight", weight, 1, "K")) ||
      failed(
          check.dimMatches("weight", weight, 1, "K", inFeatures, "x dim -1")) ||
      failed(check.sameElementType("weight", weight, x.getElementType(), "x")))
    return failure();
  if (!bias)
    return success();
  if (failed(check.hasRank("bias", bias, 1, "[Nout]")) ||
      failed(check.dimMatches("bias", bias, 0, "Nout", weight.getDimSize(0),
                              "weight dim 0")) ||
      failed(check.sameElementType("bias", bias, x.getElementType(), "x")))
    return failure();
  return success();
}

/// The type of linear(x) with weight `[Nout, K]`: x's shape with the last dim
/// replaced by Nout.
static LogicalResult inferLinearType(std::optional<Location> loc, Value x,
                                     Value weight,
                                     SmallVectorImpl<Type> &inferred) {
  auto xType = dyn_cast<RankedTensorType>(x.getType());
  auto wType = dyn_cast<RankedTensorType>(weight.getType());
  if (!xType || !wType || xType.getRank() < 1 || wType.getRank() != 2)
    return emitOptionalError(loc, "expects x of rank 1 or more ([..., K]) "
                                  "and weight of rank 2 ([Nout, K])");
  SmallVector<int64_t> shape(xType.getShape());
  shape.back() = wType.getDimSize(0);
  inferred.push_back(RankedTensorType::get(shape, xType.getElementType()));
  return success();
}

/// x's type, for the ops whose result has the shape of x.
static LogicalResult inferSameAsX(std::optional<Location> loc, Value x,
                                  SmallVectorImpl<Type> &inferred) {
  auto xType = dyn_cast<RankedTensorType>(x.getType());
  if (!xType || xType.getRank() < 1)
    return emitOptionalError(loc, "expects x of rank 1 or more ([..., C])");
  inferred.push_back(xType);
  return success();
}

/// x's dims with the last one replaced by the static `lastDim`.
static void reifyWithLastDim(OpBuilder &builder, Location loc, Value x,
                             int64_t lastDim,
                             ReifiedRankedShapedTypeDims &reified) {
  SmallVector<OpFoldResult> sizes = getDimSizes(builder, loc, x);
  sizes.back() = builder.getIndexAttr(lastDim);
  reified.push_back(std::move(sizes));
}

/// Checks the declared result types against those inferred from the
/// operands, naming the result that differs. Runs after the operand checks,
/// so the inference it relies on has verified operands.
template <typename OpTy> static LogicalResult verifyResultTypes(OpTy op) {
  SmallVector<Type> inferred;
  if (failed(OpTy::inferReturnTypes(op->getContext(), op->getLoc(),
                                    typename OpTy::Adaptor(op), inferred)))
    return failure();
  if (inferred.size() != op->getNumResults())
    return op->emitOpError() << "expects " << inferred.size()
                             << " result(s) but got " << op->getNumResults();
  for (auto [i, expected, actual] :
       llvm::enumerate(inferred, op->getResultTypes()))
    if (expected != actual)
      return op->emitOpError()
             << "expects result " << i << " to have type " << expected
             << " (inferred from the operands) but got " << actual;
  return success();
}

//===----------------------------------------------------------------------===//
// PairBiasAttentionOp
//===----------------------------------------------------------------------===//

float PairBiasAttentionOp::getScaleValue() {
  if (std::optional<APFloat> scale = getScale())
    return scale->convertToFloat();
  return 1.0f / std::sqrt(static_cast<float>(getHeadDim()));
}

LogicalResult PairBiasAttentionOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  auto qType = dyn_cast<RankedTensorType>(adaptor.getQ().getType());
  if (!qType || qType.getRank() != 5)
    return emitOptionalError(location, "expects q of rank 5 ([B, S, N, H, D])");
  inferredReturnTypes.push_back(qType);
  if (adaptor.getReturnLse()) {
    ArrayRef<int64_t> s = qType.getShape();
    inferredReturnTypes.push_back(RankedTensorType::get(
        {s[0], s[1], s[3], s[2]}, Float32Type::get(context)));
  }
  return success();
}

LogicalResult PairBiasAttentionOp::verify() {
  ShapeChecker check(*this);
  RankedTensorType qType = getQ().getType();
  if (failed(check.hasRank("q", qType, 5, kQkvLayout)) ||
      failed(check.isStatic("q", qType, 3, "H")) ||
      failed(check.isStatic("q", qType, 4, "D")))
    return failure();
  ArrayRef<int64_t> q = qType.getShape();
  Type elementType = qType.getElementType();

  // k, v and the gate share q's layout and element type.
  SmallVector<std::pair<StringRef, Value>> likeQ = {{"k", getK()},
                                                    {"v", getV()}};
  if (getGate())
    likeQ.push_back({"gate", getGate()});
  for (auto [name, value] : likeQ) {
    auto type = cast<ShapedType>(value.getType());
    if (failed(check.hasRank(name, type, 5, kQkvLayout)) ||
        failed(check.sameElementType(name, type, elementType, "q")))
      return failure();
    for (int64_t i = 0; i < 5; ++i)
      if (failed(check.dimMatches(name, type, i, kQkvDims[i], q[i], "as q")))
        return failure();
  }

  if (Value mask = getMask()) {
    auto type = cast<ShapedType>(mask.getType());
    StringRef layout = "[B, S, 1, 1, N]";
    if (failed(check.hasRank("mask", type, 5, layout)) ||
        failed(check.dimMatches("mask", type, 0, "B", q[0], "as q")) ||
        failed(check.dimMatches("mask", type, 1, "S", q[1], "as q")) ||
        failed(check.dimIsExactly("mask", type, 2, 1, layout)) ||
        failed(check.dimIsExactly("mask", type, 3, 1, layout)) ||
        failed(check.dimMatches("mask", type, 4, "N", q[2], "as q dim 2")))
      return failure();
  }

  if (Value bias = getBias()) {
    auto type = cast<ShapedType>(bias.getType());
    StringRef layout = "[B, 1, H, N, N]";
    if (failed(check.hasRank("bias", type, 5, layout)) ||
        failed(check.sameElementType("bias", type, elementType, "q")) ||
        failed(check.dimMatches("bias", type, 0, "B", q[0], "as q")) ||
        failed(check.dimIsExactly("bias", type, 1, 1, layout)) ||
        failed(check.dimMatches("bias", type, 2, "H", q[3], "as q dim 3")) ||
        failed(check.dimMatches("bias", type, 3, "N", q[2], "as q dim 2")) ||
        failed(check.dimMatches("bias", type, 4, "N", q[2], "as q dim 2")))
      return failure();
  }

  if (std::optional<APFloat> scale = getScale())
    if (failed(check.isFinite("scale", scale->convertToFloat(),
                              /*nonNegative=*/false)))
      return failure();
  if (getReturnLse() != static_cast<bool>(getLse()))
    return emitOpError() << "expects an f32 logsumexp result [B, S, H, N] "
                            "exactly when `logsumexp` is set";
  return verifyResultTypes(*this);
}

LogicalResult PairBiasAttentionOp::reifyResultShapes(
    OpBuilder &builder, ReifiedRankedShapedTypeDims &reifiedReturnShapes) {
  SmallVector<OpFoldResult> q = getDimSizes(builder, getLoc(), getQ());
  reifiedReturnShapes.push_back(q);
  if (getLse())
    reifiedReturnShapes.push_back({q[0], q[1], q[3], q[2]});
  return success();
}

//===----------------------------------------------------------------------===//
// LayerNormOp
//===----------------------------------------------------------------------===//

LogicalResult
LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                              Adaptor adaptor,
                              SmallVectorImpl<Type> &inferredReturnTypes) {
  return inferSameAsX(location, adaptor.getX(), inferredReturnTypes);
}

LogicalResult LayerNormOp::verify() {
  ShapeChecker check(*this);
  if (failed(verifyNormOperands(check, getX().getType(), getGamma().getType(),
                                getBeta().getType())) ||
      failed(check.isFinite("eps", getEps().convertToFloat(),
                            /*nonNegative=*/true)))
    return failure();
  return verifyResultTypes(*this);
}

LogicalResult LayerNormOp::reifyResultShapes(
    OpBuilder &builder, ReifiedRankedShapedTypeDims &reifiedReturnShapes) {
  reifiedReturnShapes.push_back(getDimSizes(builder, getLoc(), getX()));
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult
LinearOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  return inferLinearType(location, adaptor.getX(), adaptor.getWeight(),
                         inferredReturnTypes);
}

LogicalResult LinearOp::verify() {
  ShapeChecker check(*this);
  RankedTensorType x = getX().getType();
  if (failed(check.hasMinRank("x", x, 1, "[..., K]")) ||
      failed(check.isStatic("x", x, x.getRank() - 1, "K")))
    return failure();
  if (failed(verifyLinearOperands(
          check, x, getWeight().getType(),
          getBias() ? cast<ShapedType>(getBias().getType()) : ShapedType())))
    return failure();
  return verifyResultTypes(*this);
}

LogicalResult
LinearOp::reifyResultShapes(OpBuilder &builder,
                            ReifiedRankedShapedTypeDims &reifiedReturnShapes) {
  reifyWithLastDim(builder, getLoc(), getX(),
                   getWeight().getType().getDimSize(0), reifiedReturnShapes);
  return success();
}

//===----------------------------------------------------------------------===//
// LayerNormLinearOp
//===----------------------------------------------------------------------===//

LogicalResult LayerNormLinearOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> location, Adaptor adaptor,
    SmallVectorImpl<Type> &inferredReturnTypes) {
  return inferLinearType(location, adaptor.getX(), adaptor.getWeight(),
                         inferredReturnTypes);
}

LogicalResult LayerNormLinearOp::verify() {
  ShapeChecker check(*this);
  RankedTensorType x = getX().getType();
  if (failed(verifyNormOperands(check, x, getGamma().getType(),
                                getBeta().getType())) ||
      failed(verifyLinearOperands(
          check, x, getWeight().getType(),
          getBias() ? cast<ShapedType>(getBias().getType()) : ShapedType())) ||
      failed(check.isFinite("eps", getEps().convertToFloat(),
                            /*nonNegative=*/true)))
    return failure();
  return verifyResultTypes(*this);
}

LogicalResult LayerNormLinearOp::reifyResultShapes(
    OpBuilder &builder, ReifiedRankedShapedTypeDims &reifiedReturnShapes) {
  reifyWithLastDim(builder, getLoc(), getX(),
                   getWeight().getType().getDimSize(0), reifiedReturnShapes);
  return success();
}

//===----------------------------------------------------------------------===//
// SwiGLUOp
//===----------------------------------------------------------------------===//

LogicalResult
SwiGLUOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                           Adaptor adaptor,
                           SmallVectorImpl<Type> &inferredReturnTypes) {
  auto xType = dyn_cast<RankedTensorType>(adaptor.getX().getType());
  if (!xType || xType.getRank() < 1)
    return emitOptionalError(location, "expects x of rank 1 or more "
                                       "([..., 2F])");
  SmallVector<int64_t> shape(xType.getShape());
  if (!ShapedType::isDynamic(shape.back()))
    shape.back() /= 2;
  inferredReturnTypes.push_back(
      RankedTensorType::get(shape, xType.getElementType()));
  return success();
}

LogicalResult SwiGLUOp::verify() {
  ShapeChecker check(*this);
  RankedTensorType x = getX().getType();
  if (failed(check.hasMinRank("x", x, 1, "[..., 2F]")) ||
      failed(check.isStatic("x", x, x.getRank() - 1, "2F")))
    return failure();
  int64_t width = x.getDimSize(x.getRank() - 1);
  if (width % 2 != 0)
    return emitOpError() << "expects x dim " << x.getRank() - 1
                         << " (2F) to be even but got " << width;
  return verifyResultTypes(*this);
}

LogicalResult
SwiGLUOp::reifyResultShapes(OpBuilder &builder,
                            ReifiedRankedShapedTypeDims &reifiedReturnShapes) {
  RankedTensorType x = getX().getType();
  reifyWithLastDim(builder, getLoc(), getX(), x.getDimSize(x.getRank() - 1) / 2,
                   reifiedReturnShapes);
  return success();
}

//===----------------------------------------------------------------------===//
// TransitionOp
//===----------------------------------------------------------------------===//

LogicalResult
TransitionOp::inferReturnTypes(MLIRContext *, std::optional<Location> location,
                               Adaptor adaptor,
                               SmallVectorImpl<Type> &inferredReturnTypes) {
  return inferSameAsX(location, adaptor.getX(), inferredReturnTypes);
}

LogicalResult TransitionOp::verify() {
  ShapeChecker check(*this);
  RankedTensorType x = getX().getType();
  if (failed(verifyNormOperands(check, x, getGamma().getType(),
                                getBeta().getType())))
    return failure();
  int64_t channels = x.getDimSize(x.getRank() - 1);
  RankedTensorType up = getWUp().getType();
  RankedTensorType down = getWDown().getType();
  if (failed(check.hasRank("w_up", up, 2, "[2F, C]")) ||
      failed(check.isStatic("w_up", up, 0, "2F")) ||
      failed(check.isStatic("w_up", up, 1, "C")) ||
      failed(check.dimMatches("w_up", up, 1, "C", channels, "x dim -1")) ||
      failed(check.sameElementType("w_up", up, x.getElementType(), "x")) ||
      failed(check.hasRank("w_down", down, 2, "[C, F]")) ||
      failed(check.isStatic("w_down", down, 0, "C")) ||
      failed(check.isStatic("w_down", down, 1, "F")) ||
      failed(check.dimMatches("w_down", down, 0, "C", channels, "x dim -1")) ||
      failed(check.dimMatches("w_up", up, 0, "2F", 2 * down.getDimSize(1),
                              "twice w_down dim 1")) ||
      failed(check.sameElementType("w_down", down, x.getElementType(), "x")) ||
      failed(check.isFinite("eps", getEps().convertToFloat(),
                            /*nonNegative=*/true)))
    return failure();
  return verifyResultTypes(*this);
}

LogicalResult TransitionOp::reifyResultShapes(
    OpBuilder &builder, ReifiedRankedShapedTypeDims &reifiedReturnShapes) {
  reifiedReturnShapes.push_back(getDimSizes(builder, getLoc(), getX()));
  return success();
}

#define GET_OP_CLASSES
#include "mf/Dialect/Evo/IR/EvoOps.cpp.inc"
