//===- TileRows.cpp - row-wise evo ops in blocks of rows ------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// x [..., C] -> collapse to [M, C] -> scf.forall over ceil(M / R) blocks:
//   slice [rows, C] (rows = min(R, M - m0)), the same op on the slice,
//   parallel_insert_slice into [M, C'] -> expand back to [..., C'].
// Preconditions: verified evo IR (C and the weights static).
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoOps.h"
#include "mf/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "evo-tile-rows"

namespace mf {
#define GEN_PASS_DEF_EVOTILEROWSPASS
#include "mf/Transforms/Passes.h.inc"
} // namespace mf

using namespace mlir;
using namespace mf::evo;

/// [d0, ..., dr-1] -> [d0 * ... * dr-2, dr-1] (no-op for rank 2).
static Value collapseRows(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() == 2)
    return x;
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    leading.push_back(i);
  return tensor::CollapseShapeOp::create(
      b, loc, x, ArrayRef<ReassociationIndices>{leading, {type.getRank() - 1}});
}

namespace {

/// Tiles any op of `OpTy` whose operand 0 is x [..., C] and whose single
/// result is [..., C'].
template <typename OpTy> struct TileRows : OpRewritePattern<OpTy> {
  TileRows(MLIRContext *ctx, int64_t blockRows)
      : OpRewritePattern<OpTy>(ctx), blockRows(blockRows) {}

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    if (op->template getParentOfType<scf::ForallOp>())
      return rewriter.notifyMatchFailure(op, "already inside a parallel loop");
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value x = op->getOperand(0);
    auto xType = cast<RankedTensorType>(x.getType());
    auto yType = cast<RankedTensorType>(op->getResult(0).getType());
    int64_t rank = xType.getRank();
    if (rank < 1)
      return rewriter.notifyMatchFailure(op, "rank 0");
    if (rank == 1)
      return rewriter.notifyMatchFailure(op, "a single row");
    int64_t inWidth = xType.getShape().back();
    int64_t outWidth = yType.getShape().back();

    Value x2 = collapseRows(b, loc, x);
    Value m = tensor::DimOp::create(b, loc, x2, 0);
    Value block = arith::ConstantIndexOp::create(b, loc, blockRows);
    Value numBlocks = arith::CeilDivSIOp::create(b, loc, m, block);
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<OpFoldResult>{m, b.getIndexAttr(outWidth)},
        yType.getElementType());
    auto forall =
        scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{numBlocks},
                              ValueRange{init}, std::nullopt);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(forall.getTerminator());
      Value m0 =
          arith::MulIOp::create(b, loc, forall.getInductionVar(0), block);
      Value rows = arith::MinSIOp::create(b, loc, block,
                                          arith::SubIOp::create(b, loc, m, m0));
      OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
      auto sliceType = RankedTensorType::get({ShapedType::kDynamic, inWidth},
                                             xType.getElementType());
      Value xTile = tensor::ExtractSliceOp::create(
          b, loc, sliceType, x2, ArrayRef<OpFoldResult>{m0, zero},
          ArrayRef<OpFoldResult>{rows, b.getIndexAttr(inWidth)},
          ArrayRef<OpFoldResult>{one, one});
      IRMapping mapping;
      mapping.map(x, xTile);
      Operation *tiled = b.clone(*op, mapping);
      tiled->getResult(0).setType(RankedTensorType::get(
          {ShapedType::kDynamic, outWidth}, yType.getElementType()));
      b.setInsertionPointToEnd(forall.getTerminator().getBody());
      tensor::ParallelInsertSliceOp::create(
          b, loc, tiled->getResult(0), forall.getRegionIterArgs()[0],
          ArrayRef<OpFoldResult>{m0, zero},
          ArrayRef<OpFoldResult>{rows, b.getIndexAttr(outWidth)},
          ArrayRef<OpFoldResult>{one, one});
    }
    Value result = forall.getResult(0);
    if (rank > 2) {
      ReassociationIndices leading;
      for (int64_t i = 0; i + 1 < rank; ++i)
        leading.push_back(i);
      SmallVector<OpFoldResult> outSizes = tensor::getMixedSizes(b, loc, x);
      outSizes.back() = b.getIndexAttr(outWidth);
      result = tensor::ExpandShapeOp::create(
          b, loc, yType, result,
          ArrayRef<ReassociationIndices>{leading, {rank - 1}}, outSizes);
    }
    rewriter.replaceOp(op, result);
    return success();
  }

  int64_t blockRows;
};

struct EvoTileRowsPass : mf::impl::EvoTileRowsPassBase<EvoTileRowsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (blockRows < 1) {
      getOperation()->emitError()
          << "evo-tile-rows expects a positive block-rows but got "
          << static_cast<int64_t>(blockRows);
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<TileRows<LayerNormOp>, TileRows<LinearOp>,
                 TileRows<LayerNormLinearOp>, TileRows<SwiGLUOp>,
                 TileRows<TransitionOp>>(ctx, blockRows);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
