//===- VectorizeLinear.cpp - register-blocked linear layers on the CPU ----===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The linear contraction of convert-evo-to-linalg, once bufferized, is
//   linalg.generic ins(x : [..., K], wT : [K, N]) outs(out : [..., N])
//     { out += x * wT }   loops (batch..., k, n)
// with out pre-filled (zeros or the bias). Lowered to plain loops, every k
// step reloads and stores the output row. Here it becomes:
//
//   scf.forall over blocks of R rows (scf.for inside a parallel loop):
//     for each block of W columns (then the remaining N % W as one vector):
//       acc[r] = out[m0 + r, n0 : n0 + W]          (R vectors in registers)
//       for k: w = wT[k, n0 : n0 + W]; acc[r] = fma(x[m0 + r, k], w, acc[r])
//       out[m0 + r, n0 : n0 + W] = acc[r]
//   then the M % R remaining rows the same way, one at a time.
//
// Preconditions: f32, static K and N, identity layouts. Anything else is
// left to linalg's loops.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "mf-cpu-vectorize-linear"

namespace mf {
#define GEN_PASS_DEF_CPUVECTORIZELINEARPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

/// True if `body` is `yield(out + a * b)` over its first two arguments.
static bool isMultiplyAccumulate(Block &body) {
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!yield || yield.getNumOperands() != 1)
    return false;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if (add.getLhs() != acc && add.getRhs() != acc)
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  Value a = body.getArgument(0), b = body.getArgument(1);
  return (mul.getLhs() == a && mul.getRhs() == b) ||
         (mul.getLhs() == b && mul.getRhs() == a);
}

/// Collapses a contiguous memref [d0, ..., dr-1] to [d0 * ... * dr-2, dr-1].
static Value collapseTo2D(OpBuilder &b, Location loc, Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 2)
    return memref;
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    leading.push_back(i);
  return memref::CollapseShapeOp::create(
      b, loc, memref,
      ArrayRef<ReassociationIndices>{leading, {type.getRank() - 1}});
}

namespace {

struct VectorizeLinear : OpRewritePattern<linalg::GenericOp> {
  VectorizeLinear(MLIRContext *ctx, int64_t rows, int64_t width)
      : OpRewritePattern(ctx), rows(rows), width(width) {}

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
        op.getNumDpsInits() != 1)
      return rewriter.notifyMatchFailure(op, "not a 2-input memref generic");
    Value x = op.getDpsInputs()[0], wt = op.getDpsInputs()[1];
    Value out = op.getDpsInits()[0];
    auto xType = dyn_cast<MemRefType>(x.getType());
    auto wType = dyn_cast<MemRefType>(wt.getType());
    auto outType = dyn_cast<MemRefType>(out.getType());
    if (!xType || !wType || !outType || !xType.getElementType().isF32() ||
        !wType.getElementType().isF32() || !outType.getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "not f32 memrefs");
    // Rows may be strided (a block of rows of a larger tensor) when the
    // operands are 2-D; the columns must be contiguous. Higher ranks are
    // collapsed, which needs identity layouts.
    auto rowMajor = [](MemRefType type) {
      if (type.getLayout().isIdentity())
        return true;
      SmallVector<int64_t> strides;
      int64_t offset;
      return type.getRank() == 2 &&
             succeeded(type.getStridesAndOffset(strides, offset)) &&
             strides.back() == 1;
    };
    if (!rowMajor(xType) || !rowMajor(wType) || !rowMajor(outType))
      return rewriter.notifyMatchFailure(op, "columns are not contiguous");
    unsigned rank = xType.getRank();
    if (rank < 2 || wType.getRank() != 2 || outType.getRank() != rank ||
        op.getNumLoops() != rank + 1)
      return rewriter.notifyMatchFailure(op, "not a linear contraction");
    // N sets the vector widths and must be static; K is a loop bound.
    int64_t n = wType.getDimSize(1);
    if (ShapedType::isDynamic(n) || outType.getDimSize(rank - 1) != n)
      return rewriter.notifyMatchFailure(op, "N must be static");
    if (rank > 2 && ShapedType::isDynamic(xType.getDimSize(rank - 1)))
      return rewriter.notifyMatchFailure(op, "collapsing needs a static K");

    // Loops (batch..., k, n): x (batch..., k), wT (k, n), out (batch..., n).
    MLIRContext *ctx = op.getContext();
    auto dims = [&](ArrayRef<unsigned> list) {
      SmallVector<AffineExpr> exprs;
      for (unsigned d : list)
        exprs.push_back(getAffineDimExpr(d, ctx));
      return AffineMap::get(rank + 1, 0, exprs, ctx);
    };
    SmallVector<unsigned> xDims, outDims;
    for (unsigned i = 0; i + 1 < rank; ++i) {
      xDims.push_back(i);
      outDims.push_back(i);
    }
    xDims.push_back(rank - 1);
    outDims.push_back(rank);
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    if (maps[0] != dims(xDims) || maps[1] != dims({rank - 1, rank}) ||
        maps[2] != dims(outDims))
      return rewriter.notifyMatchFailure(op, "unexpected indexing maps");
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    for (unsigned i = 0; i <= rank; ++i)
      if ((iterators[i] == utils::IteratorType::reduction) != (i == rank - 1))
        return rewriter.notifyMatchFailure(op, "unexpected iterators");
    if (!isMultiplyAccumulate(op.getRegion().front()))
      return rewriter.notifyMatchFailure(op, "body is not out + x * w");

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Value x2 = collapseTo2D(b, loc, x), out2 = collapseTo2D(b, loc, out);
    Value m = memref::DimOp::create(b, loc, x2, 0);
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value cK = memref::DimOp::create(b, loc, x2, 1);
    Value cR = arith::ConstantIndexOp::create(b, loc, rows);
    Value fullBlocks = arith::DivUIOp::create(b, loc, m, cR);

    // One block of `numRows` rows starting at m0: every column block.
    auto emitRows = [&](OpBuilder &bb, Value m0, int64_t numRows) {
      auto emitColumns = [&](OpBuilder &bb, Value cn0, int64_t w) {
        auto vecType = VectorType::get({w}, bb.getF32Type());
        SmallVector<Value> rowIndex, acc;
        for (int64_t r = 0; r < numRows; ++r) {
          Value mr = arith::AddIOp::create(
              bb, loc, m0, arith::ConstantIndexOp::create(bb, loc, r));
          rowIndex.push_back(mr);
          acc.push_back(vector::LoadOp::create(bb, loc, vecType, out2,
                                               ValueRange{mr, cn0}));
        }
        auto loop = scf::ForOp::create(
            bb, loc, c0, cK, c1, acc,
            [&](OpBuilder &lb, Location lloc, Value kv, ValueRange iter) {
              Value wv = vector::LoadOp::create(lb, lloc, vecType, wt,
                                                ValueRange{kv, cn0});
              SmallVector<Value> next;
              for (int64_t r = 0; r < numRows; ++r) {
                Value xs = memref::LoadOp::create(lb, lloc, x2,
                                                  ValueRange{rowIndex[r], kv});
                Value xb = vector::BroadcastOp::create(lb, lloc, vecType, xs);
                next.push_back(
                    vector::FMAOp::create(lb, lloc, xb, wv, iter[r]));
              }
              scf::YieldOp::create(lb, lloc, next);
            });
        for (int64_t r = 0; r < numRows; ++r)
          vector::StoreOp::create(bb, loc, loop.getResult(r), out2,
                                  ValueRange{rowIndex[r], cn0});
      };
      // Full column blocks in a loop (not unrolled: Nout reaches thousands),
      // then the remaining columns as one narrower vector.
      int64_t fullColumns = n / width;
      if (fullColumns > 0) {
        Value cW = arith::ConstantIndexOp::create(bb, loc, width);
        Value cEnd =
            arith::ConstantIndexOp::create(bb, loc, fullColumns * width);
        scf::ForOp::create(bb, loc, c0, cEnd, cW, ValueRange(),
                           [&](OpBuilder &cb, Location, Value n0, ValueRange) {
                             emitColumns(cb, n0, width);
                             scf::YieldOp::create(cb, loc);
                           });
      }
      if (n % width)
        emitColumns(
            bb, arith::ConstantIndexOp::create(bb, loc, fullColumns * width),
            n % width);
    };

    // Row blocks in parallel, unless this already runs inside a parallel
    // loop (an attention tile): a nested OpenMP region per tile costs more
    // than it gives.
    bool nested = op->getParentOfType<scf::ForallOp>() ||
                  op->getParentOfType<scf::ParallelOp>();
    if (nested) {
      scf::ForOp::create(
          b, loc, c0, fullBlocks, c1, ValueRange(),
          [&](OpBuilder &lb, Location lloc, Value block, ValueRange) {
            emitRows(lb, arith::MulIOp::create(lb, lloc, block, cR), rows);
            scf::YieldOp::create(lb, lloc);
          });
    } else {
      auto forall =
          scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{fullBlocks},
                                ValueRange(), std::nullopt);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(forall.getTerminator());
      Value m0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), cR);
      emitRows(b, m0, rows);
    }
    Value rest = arith::MulIOp::create(b, loc, fullBlocks, cR);
    scf::ForOp::create(b, loc, rest, m, c1, ValueRange(),
                       [&](OpBuilder &lb, Location lloc, Value mv, ValueRange) {
                         emitRows(lb, mv, 1);
                         scf::YieldOp::create(lb, lloc);
                       });
    rewriter.eraseOp(op);
    return success();
  }

  int64_t rows, width;
};

struct CPUVectorizeLinearPass
    : mf::impl::CPUVectorizeLinearPassBase<CPUVectorizeLinearPass> {
  using Base::Base;
  void runOnOperation() override {
    if (rows < 1 || width < 1) {
      getOperation()->emitError()
          << "mf-cpu-vectorize-linear expects positive rows and width";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<VectorizeLinear>(&getContext(), rows, width);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
