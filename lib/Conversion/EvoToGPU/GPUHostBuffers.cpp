//===- GPUHostBuffers.cpp - Host buffers as device memory -----------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mf {
#define GEN_PASS_DEF_GPUHOSTBUFFERSPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

namespace {

/// The source and destination of a whole-buffer copy, or nulls.
std::pair<Value, Value> copyOperands(Operation *op) {
  if (auto copy = dyn_cast<memref::CopyOp>(op))
    return {copy.getSource(), copy.getTarget()};
  if (auto copy = dyn_cast<linalg::CopyOp>(op))
    if (copy.hasPureBufferSemantics())
      return {copy.getInputs()[0], copy.getOutputs()[0]};
  return {};
}

/// `copy` moves a fresh buffer (possibly through one expand_shape) into a
/// function argument at its last use: make the kernels write the argument
/// instead. Returns true when it rewrote.
bool forwardIntoOutParam(Operation *copy) {
  auto [src, dst] = copyOperands(copy);
  if (!src || !isa<BlockArgument>(dst))
    return false;
  memref::ExpandShapeOp expand = src.getDefiningOp<memref::ExpandShapeOp>();
  Value buffer = expand ? expand.getSrc() : src;
  auto alloc = buffer.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != copy->getBlock())
    return false;
  // Every other use of the buffer comes before the copy, and the argument
  // is not touched before it.
  for (Operation *user : buffer.getUsers())
    if (user != copy && user != expand && !user->isBeforeInBlock(copy) &&
        !isa<memref::DeallocOp>(user))
      return false;
  for (Operation *user : dst.getUsers())
    if (user != copy && user->getBlock() == copy->getBlock() &&
        user->isBeforeInBlock(copy))
      return false;
  OpBuilder b(alloc);
  Value replacement = dst;
  if (expand) {
    if (expand->hasOneUse() == false)
      return false;
    replacement = memref::CollapseShapeOp::create(
        b, alloc.getLoc(), dst, expand.getReassociationIndices());
  }
  if (replacement.getType() != alloc.getType())
    return false;
  // The argument now lives from the first write: move it up is not needed
  // (arguments dominate everything).
  for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
    if (isa<memref::DeallocOp>(user))
      user->erase();
  copy->erase();
  if (expand)
    expand->erase();
  alloc.getResult().replaceAllUsesWith(replacement);
  alloc->erase();
  return true;
}

/// MLIR 22's expand-strided-metadata crashes on an expand_shape with two
/// dynamic sizes in one group (memref<?x128> into memref<1x?x?x128>, from a
/// kernel's [rows, c] output seen as [1, N, N, c]). For a contiguous source
/// the same view is a reinterpret_cast with row-major strides.
void expandShapeToReinterpretCast(memref::ExpandShapeOp expand) {
  bool twoDynamic = false;
  for (const ReassociationIndices &group : expand.getReassociationIndices())
    twoDynamic |= llvm::count_if(group, [&](int64_t dim) {
                    return expand.getResultType().isDynamicDim(dim);
                  }) > 1;
  MemRefType resultType = expand.getResultType();
  if (!twoDynamic || !expand.getSrcType().getLayout().isIdentity() ||
      !resultType.getLayout().isIdentity())
    return;
  OpBuilder b(expand);
  Location loc = expand.getLoc();
  SmallVector<OpFoldResult> sizes = expand.getMixedOutputShape();
  SmallVector<OpFoldResult> strides(sizes.size());
  OpFoldResult stride = b.getIndexAttr(1);
  for (int64_t dim = sizes.size() - 1; dim >= 0; --dim) {
    strides[dim] = stride;
    AffineExpr s0, s1;
    bindSymbols(b.getContext(), s0, s1);
    stride = affine::makeComposedFoldedAffineApply(b, loc, s0 * s1,
                                                   {stride, sizes[dim]});
  }
  auto cast = memref::ReinterpretCastOp::create(
      b, loc, resultType, expand.getSrc(), b.getIndexAttr(0), sizes, strides);
  expand.replaceAllUsesWith(cast.getResult());
  expand.erase();
}

struct GPUHostBuffersPass
    : public mf::impl::GPUHostBuffersPassBase<GPUHostBuffersPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    SmallVector<Operation *> copies;
    func.walk([&](Operation *op) {
      if (copyOperands(op).first)
        copies.push_back(op);
    });
    for (Operation *copy : copies)
      forwardIntoOutParam(copy);
    SmallVector<memref::ExpandShapeOp> expands;
    func.walk([&](memref::ExpandShapeOp op) { expands.push_back(op); });
    for (memref::ExpandShapeOp expand : expands)
      expandShapeToReinterpretCast(expand);

    // What is left is device memory of the host code's own.
    SmallVector<Operation *> rest;
    func.walk([&](Operation *op) {
      if (isa<memref::AllocOp, memref::DeallocOp>(op) || copyOperands(op).first)
        rest.push_back(op);
    });
    bool hasDealloc = llvm::any_of(
        rest, [](Operation *op) { return isa<memref::DeallocOp>(op); });
    for (Operation *op : rest) {
      OpBuilder b(op);
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        auto gpuAlloc = gpu::AllocOp::create(
            b, op->getLoc(), alloc.getType(), /*asyncToken=*/Type(),
            ValueRange(), alloc.getDynamicSizes(), alloc.getSymbolOperands(),
            /*hostShared=*/false);
        alloc.replaceAllUsesWith(gpuAlloc.getMemref());
        // Without deallocations from bufferization, free at the end.
        if (!hasDealloc) {
          Block *block = op->getBlock();
          b.setInsertionPoint(block->getTerminator());
          gpu::DeallocOp::create(b, op->getLoc(), Type(), ValueRange(),
                                 gpuAlloc.getMemref());
        }
        op->erase();
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        gpu::DeallocOp::create(b, op->getLoc(), Type(), ValueRange(),
                               dealloc.getMemref());
        op->erase();
      } else {
        auto [src, dst] = copyOperands(op);
        // gpu.memcpy moves contiguous buffers; a copy between strided views
        // is left to mf-linalg-to-gpu as a linalg.copy kernel.
        auto contiguous = [](Value v) {
          return cast<MemRefType>(v.getType()).getLayout().isIdentity();
        };
        if (!contiguous(src) || !contiguous(dst)) {
          if (isa<memref::CopyOp>(op))
            linalg::CopyOp::create(b, op->getLoc(), src, dst);
          else
            continue;
          op->erase();
          continue;
        }
        gpu::MemcpyOp::create(b, op->getLoc(), Type(), ValueRange(), dst, src);
        op->erase();
      }
    }
  }
};

} // namespace
