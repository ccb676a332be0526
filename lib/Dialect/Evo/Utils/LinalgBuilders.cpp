//===- LinalgBuilders.cpp - helpers to build linalg from evo --------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/Utils/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

namespace mf::evo {

Value extendToF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

Value truncateFromF32(OpBuilder &b, Location loc, Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value filledF32Tensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                      float value) {
  Value empty = emptyTensor(b, loc, sizes, b.getF32Type());
  Value cst = f32Constant(b, loc, value);
  return linalg::FillOp::create(b, loc, cst, empty).getResult(0);
}

Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                   ArrayRef<AffineMap> maps,
                   ArrayRef<utils::IteratorType> iterators, GenericBody body) {
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> results = body(nb, nloc, args);
        linalg::YieldOp::create(nb, nloc, results);
      });
  return generic.getResult(0);
}

SmallVector<utils::IteratorType> iteratorTypes(unsigned numParallel,
                                               unsigned numReduction) {
  SmallVector<utils::IteratorType> types(numParallel,
                                         utils::IteratorType::parallel);
  types.append(numReduction, utils::IteratorType::reduction);
  return types;
}

SmallVector<Value> buildMultiplyAccumulate(OpBuilder &b, Location loc,
                                           ValueRange args) {
  Value product = arith::MulFOp::create(b, loc, extendToF32(b, loc, args[0]),
                                        extendToF32(b, loc, args[1]));
  return {arith::AddFOp::create(b, loc, args[2], product)};
}

Value buildSigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = f32Constant(b, loc, 1.0f);
  Value neg = arith::NegFOp::create(b, loc, x);
  Value e = math::ExpOp::create(b, loc, neg);
  Value den = arith::AddFOp::create(b, loc, one, e);
  return arith::DivFOp::create(b, loc, one, den);
}

AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

Value buildSafeMax(OpBuilder &b, Location loc, Value x) {
  Value negInf = f32Constant(b, loc, -std::numeric_limits<float>::infinity());
  Value isInf =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, negInf);
  return arith::SelectOp::create(b, loc, isInf, f32Constant(b, loc, 0.0f), x);
}

Value buildAttentionScore(OpBuilder &b, Location loc, ValueRange args,
                          float scale, bool hasBias, bool hasMask) {
  Value s = arith::MulFOp::create(b, loc, args[0], f32Constant(b, loc, scale));
  unsigned next = 1;
  if (hasBias)
    s = arith::AddFOp::create(b, loc, s, extendToF32(b, loc, args[next++]));
  if (hasMask)
    s = arith::SelectOp::create(
        b, loc, args[next++], s,
        f32Constant(b, loc, -std::numeric_limits<float>::infinity()));
  return s;
}

Value buildShiftedExp(OpBuilder &b, Location loc, Value x, Value max) {
  Value diff = arith::SubFOp::create(b, loc, x, buildSafeMax(b, loc, max));
  return math::ExpOp::create(b, loc, diff);
}

Value buildAttentionOutput(OpBuilder &b, Location loc, Value acc, Value sum,
                           Value gate, Type type) {
  Value zero = f32Constant(b, loc, 0.0f);
  Value empty =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, sum, zero);
  Value o = arith::DivFOp::create(b, loc, acc, sum);
  o = arith::SelectOp::create(b, loc, empty, zero, o);
  if (gate)
    o = arith::MulFOp::create(b, loc, o,
                              buildSigmoid(b, loc, extendToF32(b, loc, gate)));
  return truncateFromF32(b, loc, o, type);
}

} // namespace mf::evo
