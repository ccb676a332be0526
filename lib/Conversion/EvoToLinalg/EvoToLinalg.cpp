//===- EvoToLinalg.cpp - evo ops to linalg on tensors ---------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The reference lowering of every evo op to linalg.generic on tensors, which
// every target can fall back to. Statistics and accumulation are f32: inputs
// of bf16/f16 are extended inside the generics and each op's result is
// truncated once, at the end. pair_bias_attention materializes its scores
// [B, S, H, N, N] here; evo-tile-attention gives the flash form instead.
// Preconditions: verified evo IR (the patterns rely on the verifiers' shape
// relations and static H, D, C, F).
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"
#include "mf/Dialect/Evo/IR/EvoOps.h"
#include "mf/Dialect/Evo/Utils/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

#define DEBUG_TYPE "convert-evo-to-linalg"

namespace mf {
#define GEN_PASS_DEF_CONVERTEVOTOLINALGPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;
using namespace mf::evo;

//===----------------------------------------------------------------------===//
// Building blocks (f32 in, f32 out)
//===----------------------------------------------------------------------===//

/// [0, 1, ..., n-1].
static SmallVector<unsigned> iota(unsigned n) {
  SmallVector<unsigned> dims(n);
  for (unsigned i = 0; i < n; ++i)
    dims[i] = i;
  return dims;
}

/// The tensor of `elementType` holding `f32Tensor` rounded (no-op for f32).
static Value truncateTensor(OpBuilder &b, Location loc, Value f32Tensor,
                            Type elementType) {
  if (elementType.isF32())
    return f32Tensor;
  auto type = cast<RankedTensorType>(f32Tensor.getType());
  unsigned rank = type.getRank();
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, f32Tensor),
                           elementType);
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  return buildGeneric(b, loc, f32Tensor, init, {id, id}, iteratorTypes(rank),
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        return SmallVector<Value>{
                            truncateFromF32(nb, nloc, args[0], elementType)};
                      });
}

/// layernorm(x) over the last dim, as an f32 tensor of x's shape. Two passes
/// over x (mean, then the biased variance around it) for accuracy.
static Value buildLayerNormF32(OpBuilder &b, Location loc, Value x, Value gamma,
                               Value beta, float eps) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  unsigned rank = xType.getRank();
  int64_t channels = xType.getShape().back();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
  SmallVector<unsigned> all = iota(rank);
  AffineMap full = dimsMap(ctx, rank, all);
  AffineMap row = dimsMap(ctx, rank, ArrayRef(all).drop_back());
  AffineMap channel = dimsMap(ctx, rank, {rank - 1});
  Value zeros = filledF32Tensor(b, loc, rowSizes, 0.0f);
  float invC = 1.0f / static_cast<float>(channels);

  Value sum = buildGeneric(
      b, loc, x, zeros, {full, row}, iteratorTypes(rank - 1, 1),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value xi = extendToF32(nb, nloc, args[0]);
        return SmallVector<Value>{arith::AddFOp::create(nb, nloc, args[1], xi)};
      });
  Value sumSq = buildGeneric(
      b, loc, ValueRange{x, sum}, zeros, {full, row, row},
      iteratorTypes(rank - 1, 1),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value mean = arith::MulFOp::create(nb, nloc, args[1],
                                           f32Constant(nb, nloc, invC));
        Value d = arith::SubFOp::create(nb, nloc,
                                        extendToF32(nb, nloc, args[0]), mean);
        Value dd = arith::MulFOp::create(nb, nloc, d, d);
        return SmallVector<Value>{arith::AddFOp::create(nb, nloc, args[2], dd)};
      });
  Value init = emptyTensor(b, loc, sizes, b.getF32Type());
  return buildGeneric(
      b, loc, ValueRange{x, sum, sumSq, gamma, beta}, init,
      {full, row, row, channel, channel, full}, iteratorTypes(rank),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value c = f32Constant(nb, nloc, invC);
        Value mean = arith::MulFOp::create(nb, nloc, args[1], c);
        Value var = arith::MulFOp::create(nb, nloc, args[2], c);
        Value rstd = math::RsqrtOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, var, f32Constant(nb, nloc, eps)));
        Value d = arith::SubFOp::create(nb, nloc,
                                        extendToF32(nb, nloc, args[0]), mean);
        Value y = arith::MulFOp::create(
            nb, nloc, arith::MulFOp::create(nb, nloc, d, rstd),
            extendToF32(nb, nloc, args[3]));
        return SmallVector<Value>{
            arith::AddFOp::create(nb, nloc, y, extendToF32(nb, nloc, args[4]))};
      });
}

/// x [..., K] times w^T (w [Nout, K]) plus the optional bias [Nout], as an f32
/// tensor [..., Nout]. The accumulator starts from the bias.
static Value buildLinearF32(OpBuilder &b, Location loc, Value x, Value weight,
                            Value bias) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(weight.getType());
  unsigned rank = xType.getRank();
  SmallVector<OpFoldResult> outSizes = tensor::getMixedSizes(b, loc, x);
  outSizes.back() = b.getIndexAttr(wType.getDimSize(0));
  SmallVector<unsigned> outDims = iota(rank);

  Value init;
  if (bias) {
    Value empty = emptyTensor(b, loc, outSizes, b.getF32Type());
    init = buildGeneric(
        b, loc, bias, empty,
        {dimsMap(ctx, rank, {rank - 1}), dimsMap(ctx, rank, outDims)},
        iteratorTypes(rank),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return SmallVector<Value>{extendToF32(nb, nloc, args[0])};
        });
  } else {
    init = filledF32Tensor(b, loc, outSizes, 0.0f);
  }
  // w^T [K, Nout] once per call, so that the innermost loop runs along n,
  // contiguous in w^T and in the output row (vectorizes without reassociating
  // the sum). Loops: the batch dims, k = rank - 1 (reduction), n = rank.
  int64_t outFeatures = wType.getDimSize(0), inFeatures = wType.getDimSize(1);
  Value wtInit = emptyTensor(
      b, loc, {b.getIndexAttr(inFeatures), b.getIndexAttr(outFeatures)},
      wType.getElementType());
  Value wt = linalg::TransposeOp::create(b, loc, weight, wtInit,
                                         ArrayRef<int64_t>{1, 0})
                 .getResult()[0];
  SmallVector<unsigned> xDims = iota(rank);
  SmallVector<unsigned> yDims = iota(rank - 1);
  yDims.push_back(rank);
  SmallVector<utils::IteratorType> iterators = iteratorTypes(rank - 1, 1);
  iterators.push_back(utils::IteratorType::parallel);
  return buildGeneric(b, loc, ValueRange{x, wt}, init,
                      {dimsMap(ctx, rank + 1, xDims),
                       dimsMap(ctx, rank + 1, {rank - 1, rank}),
                       dimsMap(ctx, rank + 1, yDims)},
                      iterators, buildMultiplyAccumulate);
}

/// swiglu(x) = x[..., :F] * silu(x[..., F:]) as an f32 tensor [..., F]. The
/// halves are slices, so the generic's loops range over [..., F].
static Value buildSwiGLUF32(OpBuilder &b, Location loc, Value x) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  unsigned rank = xType.getRank();
  int64_t half = xType.getShape().back() / 2;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  sizes.back() = b.getIndexAttr(half);
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  Value a = tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
  offsets.back() = b.getIndexAttr(half);
  Value g = tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  Value init = emptyTensor(b, loc, sizes, b.getF32Type());
  return buildGeneric(
      b, loc, ValueRange{a, g}, init, {id, id, id}, iteratorTypes(rank),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value av = extendToF32(nb, nloc, args[0]);
        Value gv = extendToF32(nb, nloc, args[1]);
        Value silu =
            arith::MulFOp::create(nb, nloc, gv, buildSigmoid(nb, nloc, gv));
        return SmallVector<Value>{arith::MulFOp::create(nb, nloc, av, silu)};
      });
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

struct LayerNormLowering : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value y = buildLayerNormF32(rewriter, loc, op.getX(), op.getGamma(),
                                op.getBeta(), op.getEps().convertToFloat());
    rewriter.replaceOp(
        op, truncateTensor(rewriter, loc, y, op.getType().getElementType()));
    return success();
  }
};

struct LinearLowering : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value y =
        buildLinearF32(rewriter, loc, op.getX(), op.getWeight(), op.getBias());
    rewriter.replaceOp(
        op, truncateTensor(rewriter, loc, y, op.getType().getElementType()));
    return success();
  }
};

struct LayerNormLinearLowering : OpRewritePattern<LayerNormLinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormLinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    // The normalized activations stay f32 (no rounding between the two).
    Value n = buildLayerNormF32(rewriter, loc, op.getX(), op.getGamma(),
                                op.getBeta(), op.getEps().convertToFloat());
    Value y = buildLinearF32(rewriter, loc, n, op.getWeight(), op.getBias());
    rewriter.replaceOp(
        op, truncateTensor(rewriter, loc, y, op.getType().getElementType()));
    return success();
  }
};

struct SwiGLULowering : OpRewritePattern<SwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwiGLUOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value y = buildSwiGLUF32(rewriter, loc, op.getX());
    rewriter.replaceOp(
        op, truncateTensor(rewriter, loc, y, op.getType().getElementType()));
    return success();
  }
};

struct TransitionLowering : OpRewritePattern<TransitionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransitionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value n = buildLayerNormF32(rewriter, loc, op.getX(), op.getGamma(),
                                op.getBeta(), op.getEps().convertToFloat());
    Value h = buildLinearF32(rewriter, loc, n, op.getWUp(), Value());
    Value a = buildSwiGLUF32(rewriter, loc, h);
    Value y = buildLinearF32(rewriter, loc, a, op.getWDown(), Value());
    rewriter.replaceOp(
        op, truncateTensor(rewriter, loc, y, op.getType().getElementType()));
    return success();
  }
};

/// Attention with materialized scores. Loops over (b, s, h, i, j[, d]):
///   scores[b,s,h,i,j] = scale * q.k + bias, or -inf where masked;
///   m = max_j scores (0 when the row is fully masked), p = exp(scores - m),
///   l = sum_j p, o = sum_j p v / l (0 when l = 0), times sigmoid(gate).
struct PairBiasAttentionLowering : OpRewritePattern<PairBiasAttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PairBiasAttentionOp op,
                                PatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Location loc = op.getLoc();
    Value q = op.getQ(), k = op.getK(), v = op.getV();
    SmallVector<OpFoldResult> qSizes = tensor::getMixedSizes(b, loc, q);
    // [B, S, H, N(i), N(j)] and [B, S, H, N].
    SmallVector<OpFoldResult> scoreSizes = {qSizes[0], qSizes[1], qSizes[3],
                                            qSizes[2], qSizes[2]};
    SmallVector<OpFoldResult> rowSizes = {qSizes[0], qSizes[1], qSizes[3],
                                          qSizes[2]};
    float scale = op.getScaleValue();
    float negInf = -std::numeric_limits<float>::infinity();

    // Loop dims for the scores: b=0 s=1 h=2 i=3 j=4 (d=5 for q.k).
    AffineMap scoreMap = dimsMap(ctx, 5, {0, 1, 2, 3, 4});
    Value qk = buildGeneric(
        b, loc, ValueRange{q, k}, filledF32Tensor(b, loc, scoreSizes, 0.0f),
        {dimsMap(ctx, 6, {0, 1, 3, 2, 5}), dimsMap(ctx, 6, {0, 1, 4, 2, 5}),
         dimsMap(ctx, 6, {0, 1, 2, 3, 4})},
        iteratorTypes(5, 1), buildMultiplyAccumulate);

    SmallVector<Value> inputs = {qk};
    SmallVector<AffineMap> maps = {scoreMap};
    Value bias = op.getBias(), mask = op.getMask();
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(
          5, 0,
          {getAffineDimExpr(0, ctx), getAffineConstantExpr(0, ctx),
           getAffineDimExpr(2, ctx), getAffineDimExpr(3, ctx),
           getAffineDimExpr(4, ctx)},
          ctx));
    }
    if (mask) {
      inputs.push_back(mask);
      maps.push_back(AffineMap::get(
          5, 0,
          {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
           getAffineConstantExpr(0, ctx), getAffineConstantExpr(0, ctx),
           getAffineDimExpr(4, ctx)},
          ctx));
    }
    maps.push_back(scoreMap);
    Value scores = buildGeneric(
        b, loc, inputs, emptyTensor(b, loc, scoreSizes, b.getF32Type()), maps,
        iteratorTypes(5), [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return SmallVector<Value>{buildAttentionScore(
              nb, nloc, args, scale, bool(bias), bool(mask))};
        });

    AffineMap rowMap = dimsMap(ctx, 5, {0, 1, 2, 3});
    Value rowMax =
        buildGeneric(b, loc, scores, filledF32Tensor(b, loc, rowSizes, negInf),
                     {scoreMap, rowMap}, iteratorTypes(4, 1),
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{arith::MaximumFOp::create(
                           nb, nloc, args[0], args[1])};
                     });
    // A fully masked row has max -inf: subtract 0 instead so exp gives 0.
    Value safeMax = buildGeneric(
        b, loc, rowMax, emptyTensor(b, loc, rowSizes, b.getF32Type()),
        {dimsMap(ctx, 4, {0, 1, 2, 3}), dimsMap(ctx, 4, {0, 1, 2, 3})},
        iteratorTypes(4), [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return SmallVector<Value>{buildSafeMax(nb, nloc, args[0])};
        });
    Value probs = buildGeneric(
        b, loc, ValueRange{scores, safeMax},
        emptyTensor(b, loc, scoreSizes, b.getF32Type()),
        {scoreMap, rowMap, scoreMap}, iteratorTypes(5),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value d = arith::SubFOp::create(nb, nloc, args[0], args[1]);
          return SmallVector<Value>{math::ExpOp::create(nb, nloc, d)};
        });
    Value rowSum =
        buildGeneric(b, loc, probs, filledF32Tensor(b, loc, rowSizes, 0.0f),
                     {scoreMap, rowMap}, iteratorTypes(4, 1),
                     [&](OpBuilder &nb, Location nloc, ValueRange args) {
                       return SmallVector<Value>{
                           arith::AddFOp::create(nb, nloc, args[0], args[1])};
                     });
    // o[b,s,i,h,d] = sum_j p[b,s,h,i,j] v[b,s,j,h,d]; loops b s h i d j.
    SmallVector<OpFoldResult> outSizes = qSizes;
    Value pv = buildGeneric(
        b, loc, ValueRange{probs, v}, filledF32Tensor(b, loc, outSizes, 0.0f),
        {dimsMap(ctx, 6, {0, 1, 2, 3, 5}), dimsMap(ctx, 6, {0, 1, 5, 2, 4}),
         dimsMap(ctx, 6, {0, 1, 3, 2, 4})},
        iteratorTypes(5, 1), buildMultiplyAccumulate);

    // Normalize (and gate) in q's layout; loops b s i h d.
    Type elementType = op.getOut().getType().getElementType();
    AffineMap outMap = dimsMap(ctx, 5, {0, 1, 2, 3, 4});
    SmallVector<Value> normInputs = {pv, rowSum};
    SmallVector<AffineMap> normMaps = {outMap, dimsMap(ctx, 5, {0, 1, 3, 2})};
    Value gate = op.getGate();
    if (gate) {
      normInputs.push_back(gate);
      normMaps.push_back(outMap);
    }
    normMaps.push_back(outMap);
    Value out = buildGeneric(
        b, loc, normInputs, emptyTensor(b, loc, outSizes, elementType),
        normMaps, iteratorTypes(5),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return SmallVector<Value>{
              buildAttentionOutput(nb, nloc, args[0], args[1],
                                   gate ? args[2] : Value(), elementType)};
        });

    SmallVector<Value> results = {out};
    if (op.getLse()) {
      AffineMap id4 = dimsMap(ctx, 4, {0, 1, 2, 3});
      // lse[b,s,h,i] = m + log(l), -inf for a fully masked row; the generic
      // runs over [B, S, H, N], the lse layout.
      Value lse = buildGeneric(
          b, loc, ValueRange{safeMax, rowSum},
          emptyTensor(b, loc, rowSizes, b.getF32Type()), {id4, id4, id4},
          iteratorTypes(4), [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value logL = math::LogOp::create(nb, nloc, args[1]);
            return SmallVector<Value>{
                arith::AddFOp::create(nb, nloc, args[0], logL)};
          });
      results.push_back(lse);
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct ConvertEvoToLinalgPass
    : mf::impl::ConvertEvoToLinalgPassBase<ConvertEvoToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<LayerNormLowering, LinearLowering, LayerNormLinearLowering,
                 SwiGLULowering, TransitionLowering, PairBiasAttentionLowering>(
        ctx);
    ConversionTarget target(*ctx);
    target.addIllegalDialect<EvoDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
