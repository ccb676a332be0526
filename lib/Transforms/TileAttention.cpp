//===- TileAttention.cpp - pair_bias_attention in the flash form ----------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Rewrites evo.pair_bias_attention into the flash form on tensors:
//
//   scf.forall (b, s, h, query block) shared_outs(out[, lse]):
//     q tile [bq, D]; m = -inf, l = 0, acc = 0          (f32, per query row)
//     scf.for each key block j0 (iter_args m, l, acc):
//       scores [bq, bk] = scale * q k^T + bias tile, -inf where masked
//       m' = max(m, rowmax scores); c = (m' == -inf ? 0 : m')
//       p = exp(scores - c); alpha = exp(m - c)
//       l' = alpha l + rowsum p; acc' = alpha acc + p v
//     out tile = (l == 0 ? 0 : acc / l) * sigmoid(gate tile)
//
// Tiles at the edges are smaller (N need not be a multiple of a block), so
// tile shapes are dynamic. The largest score tensor is bq x bk. Preconditions:
// verified evo IR (static H and D).
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoOps.h"
#include "mf/Dialect/Evo/Utils/LinalgBuilders.h"
#include "mf/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

#define DEBUG_TYPE "evo-tile-attention"

namespace mf {
#define GEN_PASS_DEF_EVOTILEATTENTIONPASS
#include "mf/Transforms/Passes.h.inc"
} // namespace mf

using namespace mlir;
using namespace mf::evo;

/// A rank-reducing slice of `source` at `offsets` with `sizes`, dropping the
/// unit dims not listed in `keptDims`.
static Value extractTile(OpBuilder &b, Location loc, Value source,
                         ArrayRef<OpFoldResult> offsets,
                         ArrayRef<OpFoldResult> sizes,
                         ArrayRef<unsigned> keptDims) {
  auto sourceType = cast<RankedTensorType>(source.getType());
  SmallVector<int64_t> shape;
  for (unsigned d : keptDims) {
    std::optional<int64_t> size = getConstantIntValue(sizes[d]);
    shape.push_back(size ? *size : ShapedType::kDynamic);
  }
  auto type = RankedTensorType::get(shape, sourceType.getElementType());
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, type, source, offsets, sizes,
                                        strides);
}

namespace {

struct TileAttention : OpRewritePattern<PairBiasAttentionOp> {
  TileAttention(MLIRContext *ctx, int64_t blockQ, int64_t blockK)
      : OpRewritePattern(ctx), blockQ(blockQ), blockK(blockK) {}

  LogicalResult matchAndRewrite(PairBiasAttentionOp op,
                                PatternRewriter &rewriter) const override {
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Location loc = op.getLoc();
    Value q = op.getQ(), k = op.getK(), v = op.getV();
    Value bias = op.getBias(), mask = op.getMask(), gate = op.getGate();
    Type elementType = op.getOut().getType().getElementType();
    int64_t headDim = op.getHeadDim();
    float scale = op.getScaleValue();
    float negInf = -std::numeric_limits<float>::infinity();

    SmallVector<OpFoldResult> qSizes = tensor::getMixedSizes(b, loc, q);
    Value n = getValueOrCreateConstantIndexOp(b, loc, qSizes[2]);
    Value bq = arith::ConstantIndexOp::create(b, loc, blockQ);
    Value bk = arith::ConstantIndexOp::create(b, loc, blockK);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value numQBlocks = arith::CeilDivSIOp::create(b, loc, n, bq);

    SmallVector<Value> outs = {emptyTensor(b, loc, qSizes, elementType)};
    if (op.getLse())
      outs.push_back(emptyTensor(b, loc,
                                 {qSizes[0], qSizes[1], qSizes[3], qSizes[2]},
                                 b.getF32Type()));
    auto forall = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{qSizes[0], qSizes[1], qSizes[3], numQBlocks},
        outs, std::nullopt);

    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forall.getTerminator());
    SmallVector<Value> ivs = forall.getInductionVars();
    Value bIv = ivs[0], sIv = ivs[1], hIv = ivs[2];
    Value i0 = arith::MulIOp::create(b, loc, ivs[3], bq);
    Value rows = arith::MinSIOp::create(b, loc, bq,
                                        arith::SubIOp::create(b, loc, n, i0));
    OpFoldResult c0 = b.getIndexAttr(0), c1 = b.getIndexAttr(1);
    OpFoldResult d = b.getIndexAttr(headDim);

    Value qTile = extractTile(b, loc, q, {bIv, sIv, i0, hIv, c0},
                              {c1, c1, rows, c1, d}, {2, 4});
    Value m0 = filledF32Tensor(b, loc, {rows}, negInf);
    Value l0 = filledF32Tensor(b, loc, {rows}, 0.0f);
    Value acc0 = filledF32Tensor(b, loc, {rows, d}, 0.0f);

    AffineMap ij = dimsMap(ctx, 2, {0, 1}), i2 = dimsMap(ctx, 2, {0});
    AffineMap i1 = dimsMap(ctx, 1, {0});
    // One key block at j0 with `keys` keys (static for the full blocks, so
    // that the block products get static shapes; dynamic for the last one).
    auto keyBlock = [&](OpBuilder &lb, Location lloc, Value j0,
                        OpFoldResult keys,
                        ValueRange iter) -> SmallVector<Value> {
      Value m = iter[0], l = iter[1], acc = iter[2];
      Value kTile = extractTile(lb, lloc, k, {bIv, sIv, j0, hIv, c0},
                                {c1, c1, keys, c1, d}, {2, 4});
      Value vTile = extractTile(lb, lloc, v, {bIv, sIv, j0, hIv, c0},
                                {c1, c1, keys, c1, d}, {2, 4});
      // k^T [D, keys] once per block, so that q k^T runs over (i, d, j)
      // with j innermost, contiguous (the linear-layer form).
      Value kT =
          linalg::TransposeOp::create(
              lb, lloc, kTile,
              emptyTensor(lb, lloc, {d, keys},
                          cast<ShapedType>(kTile.getType()).getElementType()),
              ArrayRef<int64_t>{1, 0})
              .getResult()[0];
      Value qk = buildGeneric(lb, lloc, ValueRange{qTile, kT},
                              filledF32Tensor(lb, lloc, {rows, keys}, 0.0f),
                              {dimsMap(ctx, 3, {0, 1}), dimsMap(ctx, 3, {1, 2}),
                               dimsMap(ctx, 3, {0, 2})},
                              {utils::IteratorType::parallel,
                               utils::IteratorType::reduction,
                               utils::IteratorType::parallel},
                              buildMultiplyAccumulate);
      // scale, bias and mask.
      SmallVector<Value> inputs = {qk};
      SmallVector<AffineMap> maps = {ij};
      if (bias) {
        inputs.push_back(extractTile(lb, lloc, bias, {bIv, c0, hIv, i0, j0},
                                     {c1, c1, c1, rows, keys}, {3, 4}));
        maps.push_back(ij);
      }
      if (mask) {
        inputs.push_back(extractTile(lb, lloc, mask, {bIv, sIv, c0, c0, j0},
                                     {c1, c1, c1, c1, keys}, {4}));
        maps.push_back(dimsMap(ctx, 2, {1}));
      }
      maps.push_back(ij);
      Value scores = buildGeneric(
          lb, lloc, inputs,
          emptyTensor(lb, lloc, {rows, keys}, lb.getF32Type()), maps,
          iteratorTypes(2), [&](OpBuilder &nb, Location nloc, ValueRange a) {
            return SmallVector<Value>{buildAttentionScore(
                nb, nloc, a, scale, bool(bias), bool(mask))};
          });
      // The running max starts from m.
      Value mNew =
          buildGeneric(lb, lloc, scores, m, {ij, i2}, iteratorTypes(1, 1),
                       [&](OpBuilder &nb, Location nloc, ValueRange a) {
                         return SmallVector<Value>{
                             arith::MaximumFOp::create(nb, nloc, a[0], a[1])};
                       });
      Value probs = buildGeneric(
          lb, lloc, ValueRange{scores, mNew},
          emptyTensor(lb, lloc, {rows, keys}, lb.getF32Type()), {ij, i2, ij},
          iteratorTypes(2), [&](OpBuilder &nb, Location nloc, ValueRange a) {
            return SmallVector<Value>{buildShiftedExp(nb, nloc, a[0], a[1])};
          });
      // alpha = exp(m - c) rescales what was summed so far.
      Value alpha = buildGeneric(
          lb, lloc, ValueRange{m, mNew},
          emptyTensor(lb, lloc, {rows}, lb.getF32Type()), {i1, i1, i1},
          iteratorTypes(1), [&](OpBuilder &nb, Location nloc, ValueRange a) {
            return SmallVector<Value>{buildShiftedExp(nb, nloc, a[0], a[1])};
          });
      Value lScaled = buildGeneric(
          lb, lloc, ValueRange{l, alpha},
          emptyTensor(lb, lloc, {rows}, lb.getF32Type()), {i1, i1, i1},
          iteratorTypes(1), [&](OpBuilder &nb, Location nloc, ValueRange a) {
            return SmallVector<Value>{
                arith::MulFOp::create(nb, nloc, a[0], a[1])};
          });
      Value lNew =
          buildGeneric(lb, lloc, probs, lScaled, {ij, i2}, iteratorTypes(1, 1),
                       [&](OpBuilder &nb, Location nloc, ValueRange a) {
                         return SmallVector<Value>{
                             arith::AddFOp::create(nb, nloc, a[0], a[1])};
                       });
      Value accScaled = buildGeneric(
          lb, lloc, ValueRange{acc, alpha},
          emptyTensor(lb, lloc, {rows, d}, lb.getF32Type()), {ij, i2, ij},
          iteratorTypes(2), [&](OpBuilder &nb, Location nloc, ValueRange a) {
            return SmallVector<Value>{
                arith::MulFOp::create(nb, nloc, a[0], a[1])};
          });
      // acc += p v over (i, j, d): d innermost, contiguous in v and acc.
      Value accNew = buildGeneric(
          lb, lloc, ValueRange{probs, vTile}, accScaled,
          {dimsMap(ctx, 3, {0, 1}), dimsMap(ctx, 3, {1, 2}),
           dimsMap(ctx, 3, {0, 2})},
          {utils::IteratorType::parallel, utils::IteratorType::reduction,
           utils::IteratorType::parallel},
          buildMultiplyAccumulate);
      return {mNew, lNew, accNew};
    };
    Value fullBlocks = arith::MulIOp::create(
        b, loc, arith::DivSIOp::create(b, loc, n, bk), bk);
    auto loop = scf::ForOp::create(
        b, loc, zero, fullBlocks, bk, ValueRange{m0, l0, acc0},
        [&](OpBuilder &lb, Location lloc, Value j0, ValueRange iter) {
          scf::YieldOp::create(
              lb, lloc, keyBlock(lb, lloc, j0, lb.getIndexAttr(blockK), iter));
        });
    Value remaining = arith::SubIOp::create(b, loc, n, fullBlocks);
    Value hasTail = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                          remaining, zero);
    auto tail = scf::IfOp::create(
        b, loc, hasTail,
        [&](OpBuilder &tb, Location tloc) {
          scf::YieldOp::create(
              tb, tloc,
              keyBlock(tb, tloc, fullBlocks, remaining, loop.getResults()));
        },
        [&](OpBuilder &tb, Location tloc) {
          scf::YieldOp::create(tb, tloc, loop.getResults());
        });
    Value mFinal = tail.getResult(0), lFinal = tail.getResult(1);
    Value accFinal = tail.getResult(2);

    // Normalize, gate and round the tile.
    SmallVector<Value> inputs = {accFinal, lFinal};
    SmallVector<AffineMap> maps = {ij, i2};
    if (gate) {
      inputs.push_back(extractTile(b, loc, gate, {bIv, sIv, i0, hIv, c0},
                                   {c1, c1, rows, c1, d}, {2, 4}));
      maps.push_back(ij);
    }
    maps.push_back(ij);
    Value outTile = buildGeneric(
        b, loc, inputs, emptyTensor(b, loc, {rows, d}, elementType), maps,
        iteratorTypes(2), [&](OpBuilder &nb, Location nloc, ValueRange a) {
          return SmallVector<Value>{buildAttentionOutput(
              nb, nloc, a[0], a[1], gate ? a[2] : Value(), elementType)};
        });
    Value lseTile;
    if (op.getLse())
      lseTile = buildGeneric(
          b, loc, ValueRange{mFinal, lFinal},
          emptyTensor(b, loc, {rows}, b.getF32Type()), {i1, i1, i1},
          iteratorTypes(1), [&](OpBuilder &nb, Location nloc, ValueRange a) {
            Value logL = math::LogOp::create(nb, nloc, a[1]);
            return SmallVector<Value>{arith::AddFOp::create(
                nb, nloc, buildSafeMax(nb, nloc, a[0]), logL)};
          });

    b.setInsertionPointToEnd(forall.getTerminator().getBody());
    ValueRange shared = forall.getRegionIterArgs();
    SmallVector<OpFoldResult> ones(5, c1);
    tensor::ParallelInsertSliceOp::create(
        b, loc, outTile, shared[0],
        ArrayRef<OpFoldResult>{bIv, sIv, i0, hIv, c0},
        ArrayRef<OpFoldResult>{c1, c1, rows, c1, d}, ones);
    if (lseTile)
      tensor::ParallelInsertSliceOp::create(
          b, loc, lseTile, shared[1], ArrayRef<OpFoldResult>{bIv, sIv, hIv, i0},
          ArrayRef<OpFoldResult>{c1, c1, c1, rows},
          ArrayRef<OpFoldResult>(ones).take_front(4));
    rewriter.replaceOp(op, forall.getResults());
    return success();
  }

  int64_t blockQ, blockK;
};

struct EvoTileAttentionPass
    : mf::impl::EvoTileAttentionPassBase<EvoTileAttentionPass> {
  using Base::Base;
  void runOnOperation() override {
    if (blockQ < 1 || blockK < 1) {
      getOperation()->emitError()
          << "evo-tile-attention expects positive block sizes but got block-q="
          << static_cast<int64_t>(blockQ)
          << " block-k=" << static_cast<int64_t>(blockK);
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttention>(&getContext(), blockQ, blockK);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
