//===- KernelBuilder.cpp - Building tensor-core GPU kernels ---------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include <limits>

using namespace mlir;
using namespace mf::gpu_kernels;

Value KernelBuilder::idx(int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
Value KernelBuilder::f32(double v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
}
Value KernelBuilder::add(Value x, Value y) {
  return arith::AddIOp::create(b, x, y);
}
Value KernelBuilder::sub(Value x, Value y) {
  return arith::SubIOp::create(b, x, y);
}
Value KernelBuilder::mul(Value x, Value y) {
  return arith::MulIOp::create(b, x, y);
}
Value KernelBuilder::div(Value x, int64_t y) {
  return arith::DivUIOp::create(b, x, idx(y));
}
Value KernelBuilder::rem(Value x, int64_t y) {
  return arith::RemUIOp::create(b, x, idx(y));
}
Value KernelBuilder::ceilDiv(Value x, int64_t y) {
  return div(add(x, idx(y - 1)), y);
}
Value KernelBuilder::minIdx(Value x, Value y) {
  return arith::MinUIOp::create(b, x, y);
}
Value KernelBuilder::lt(Value x, Value y) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
}
Value KernelBuilder::andI(Value x, Value y) {
  return arith::AndIOp::create(b, x, y);
}
// Multiplies and adds may contract into FMAs (the scale-and-bias of every
// score, the LayerNorm affine, the softmax rescaling): one rounding instead
// of two, and half the instructions. Nothing else is relaxed: -inf and NaN
// keep their meaning.
Value KernelBuilder::fadd(Value x, Value y) {
  return arith::AddFOp::create(b, x, y, arith::FastMathFlags::contract);
}
Value KernelBuilder::fmul(Value x, Value y) {
  return arith::MulFOp::create(b, x, y, arith::FastMathFlags::contract);
}
Value KernelBuilder::fmax(Value x, Value y) {
  return arith::MaxNumFOp::create(b, x, y);
}
Value KernelBuilder::select(Value c, Value x, Value y) {
  return arith::SelectOp::create(b, c, x, y);
}
Value KernelBuilder::sigmoid(Value x) {
  Value e = math::ExpOp::create(b, arith::NegFOp::create(b, x));
  return arith::DivFOp::create(b, f32(1.0), fadd(f32(1.0), e));
}
Value KernelBuilder::silu(Value x) { return fmul(x, sigmoid(x)); }
Value KernelBuilder::toF32(Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, b.getF32Type(), v);
}

Value KernelBuilder::laneReduce(Value v, ArrayRef<int32_t> offsets,
                                int32_t width, bool max) {
  for (int32_t offset : offsets) {
    Value other =
        gpu::ShuffleOp::create(b, v, offset, width, gpu::ShuffleMode::XOR)
            .getShuffleResult();
    v = max ? fmax(v, other) : fadd(v, other);
  }
  return v;
}
Value KernelBuilder::groupMax(Value v) {
  return laneReduce(v, {1, 2}, 32, /*max=*/true);
}
Value KernelBuilder::groupSum(Value v) {
  return laneReduce(v, {1, 2}, 32, /*max=*/false);
}
Value KernelBuilder::zeros(VectorType type) {
  return arith::ConstantOp::create(
      b, type,
      DenseElementsAttr::get(type, b.getZeroAttr(type.getElementType())));
}

SmallVector<Value> KernelBuilder::loadTileChunks(
    Value rowStart, int64_t rows, Value rowLimit, int64_t cols, int64_t padCols,
    Value tid, int64_t threads, llvm::function_ref<Value(Value, Value)> load) {
  const int64_t chunksPerRow = padCols / 8;
  const int64_t chunks = rows * chunksPerRow;
  auto vecType = VectorType::get({8}, elemType);
  Value zero = arith::ConstantOp::create(
      b, vecType, DenseElementsAttr::get(vecType, b.getZeroAttr(elemType)));
  Value lastRow = arith::SubIOp::create(b, rowLimit, idx(1));
  SmallVector<Value> values;
  for (int64_t step = 0; step * threads < chunks; ++step) {
    // A partial last step reloads the last chunk; its store is skipped.
    Value chunk = minIdx(add(tid, idx(step * threads)), idx(chunks - 1));
    Value row = div(chunk, chunksPerRow);
    Value col = mul(rem(chunk, chunksPerRow), idx(8));
    Value globalRow = add(rowStart, row);
    Value valid = andI(lt(globalRow, rowLimit), lt(col, idx(cols)));
    Value clampedRow = minIdx(globalRow, lastRow);
    Value clampedCol = minIdx(col, idx(cols - 8));
    values.push_back(select(valid, load(clampedRow, clampedCol), zero));
  }
  return values;
}

void KernelBuilder::storeTileChunks(Value smem, Value slot, int64_t rows,
                                    int64_t padCols, Value tid, int64_t threads,
                                    ValueRange values) {
  const int64_t chunksPerRow = padCols / 8;
  const int64_t chunks = rows * chunksPerRow;
  for (auto [step, data] : llvm::enumerate(values)) {
    int64_t first = static_cast<int64_t>(step) * threads;
    auto emit = [&, data = data] {
      Value chunk = add(tid, idx(first));
      Value row = div(chunk, chunksPerRow);
      Value col = mul(rem(chunk, chunksPerRow), idx(8));
      vector::StoreOp::create(b, data, smem, ValueRange{slot, row, col},
                              /*nontemporal=*/false, llvm::MaybeAlign(16));
    };
    if (first + threads <= chunks)
      emit();
    else
      ifThen(lt(add(tid, idx(first)), idx(chunks)), emit);
  }
}

void KernelBuilder::copyTileToShared(
    Value smem, Value slot, Value rowStart, int64_t rows, Value rowLimit,
    int64_t cols, int64_t padCols, Value tid, int64_t threads,
    llvm::function_ref<Value(Value, Value)> load) {
  SmallVector<Value> values = loadTileChunks(rowStart, rows, rowLimit, cols,
                                             padCols, tid, threads, load);
  storeTileChunks(smem, slot, rows, padCols, tid, threads, values);
}

Value KernelBuilder::fragRegister(Value ld, int64_t i) {
  Value pair = vector::ExtractOp::create(b, ld, ArrayRef<int64_t>{i});
  // NVVM's mma takes f16 pairs as vector<2xf16> and bf16 pairs as i32.
  if (elemType.isF16())
    return pair;
  auto i32x1 = VectorType::get({1}, b.getI32Type());
  Value asInt = vector::BitCastOp::create(b, i32x1, pair);
  return vector::ExtractOp::create(b, asInt, ArrayRef<int64_t>{0});
}

FragA KernelBuilder::loadFragA(Value smem, Value slot, Value row0, int64_t col0,
                               Value lane) {
  // Lanes 0-15 address rows 0-15 at column 0, lanes 16-31 the same rows at
  // column 8: matrices (rows 0-7, c0), (8-15, c0), (0-7, c8), (8-15, c8).
  Value row = add(row0, rem(lane, 16));
  Value col = add(idx(col0), mul(div(lane, 16), idx(8)));
  auto type = VectorType::get({4, 2}, elemType);
  Value ld =
      nvgpu::LdMatrixOp::create(b, type, smem, ValueRange{slot, row, col},
                                /*transpose=*/false, /*numTiles=*/4);
  return {fragRegister(ld, 0), fragRegister(ld, 1), fragRegister(ld, 2),
          fragRegister(ld, 3)};
}

std::pair<FragB, FragB> KernelBuilder::loadFragBFromNK(Value smem, Value slot,
                                                       int64_t n0, int64_t k0,
                                                       Value lane) {
  // Matrix m = lane / 8: (n0 + (m/2)*8, k0 + (m%2)*8). Registers 0,1 are the
  // first n-tile's (k 0-7, k 8-15), registers 2,3 the second's.
  Value m = div(lane, 8);
  Value row = add(add(idx(n0), mul(div(m, 2), idx(8))), rem(lane, 8));
  Value col = add(idx(k0), mul(rem(m, 2), idx(8)));
  auto type = VectorType::get({4, 2}, elemType);
  Value ld =
      nvgpu::LdMatrixOp::create(b, type, smem, ValueRange{slot, row, col},
                                /*transpose=*/false, /*numTiles=*/4);
  return {{fragRegister(ld, 0), fragRegister(ld, 1)},
          {fragRegister(ld, 2), fragRegister(ld, 3)}};
}

std::pair<FragB, FragB> KernelBuilder::loadFragBFromKN(Value smem, Value slot,
                                                       int64_t k0, int64_t n0,
                                                       Value lane) {
  // Transposed 8x8 loads: matrix m = lane / 8 covers rows (k) k0 + (m%2)*8
  // and columns (n) n0 + (m/2)*8.
  Value m = div(lane, 8);
  Value row = add(add(idx(k0), mul(rem(m, 2), idx(8))), rem(lane, 8));
  Value col = add(idx(n0), mul(div(m, 2), idx(8)));
  auto type = VectorType::get({4, 2}, elemType);
  Value ld =
      nvgpu::LdMatrixOp::create(b, type, smem, ValueRange{slot, row, col},
                                /*transpose=*/true, /*numTiles=*/4);
  return {{fragRegister(ld, 0), fragRegister(ld, 1)},
          {fragRegister(ld, 2), fragRegister(ld, 3)}};
}

Value KernelBuilder::pack(Value lo, Value hi) {
  auto f32x2 = VectorType::get({2}, b.getF32Type());
  Value pair = vector::FromElementsOp::create(b, f32x2, ValueRange{lo, hi});
  Value narrow =
      arith::TruncFOp::create(b, VectorType::get({2}, elemType), pair);
  if (elemType.isF16())
    return narrow;
  auto i32x1 = VectorType::get({1}, b.getI32Type());
  Value asInt = vector::BitCastOp::create(b, i32x1, narrow);
  return vector::ExtractOp::create(b, asInt, ArrayRef<int64_t>{0});
}

FragA KernelBuilder::accToFragA(const Acc &left, const Acc &right) {
  return {pack(left[0], left[1]), pack(left[2], left[3]),
          pack(right[0], right[1]), pack(right[2], right[3])};
}

Acc KernelBuilder::mma(const FragA &a, const FragB &bFrag, const Acc &acc) {
  MLIRContext *ctx = b.getContext();
  Type f32Type = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(
      ctx, {f32Type, f32Type, f32Type, f32Type});
  NVVM::MMATypes ptxType =
      elemType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Value d = NVVM::MmaOp::create(
      b, resultType, ValueRange(a), ValueRange(bFrag), ValueRange(acc),
      ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  Acc out;
  for (int64_t i = 0; i < 4; ++i)
    out[i] = LLVM::ExtractValueOp::create(b, d, ArrayRef<int64_t>{i});
  return out;
}

Acc KernelBuilder::zeroAcc() {
  Value z = f32(0.0);
  return {z, z, z, z};
}

Value KernelBuilder::amdMfma(Value a, Value bFrag, Value acc) {
  return amdgpu::MFMAOp::create(
      b, acc.getType(), b.getI32IntegerAttr(16), b.getI32IntegerAttr(16),
      b.getI32IntegerAttr(16), b.getI32IntegerAttr(1), a, bFrag, acc);
}

Value KernelBuilder::amdWmma(Value a, Value bFrag, Value acc) {
  return amdgpu::WMMAOp::create(b, acc.getType(), b.getI32IntegerAttr(16),
                                b.getI32IntegerAttr(16),
                                b.getI32IntegerAttr(16), a, bFrag, acc);
}

void KernelBuilder::ifThen(Value cond, llvm::function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(b, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

gpu::GPUFuncOp
mf::gpu_kernels::createKernelFunc(gpu::GPUModuleOp module, StringRef name,
                                  ArrayRef<Type> argTypes, TypeRange workgroup,
                                  int64_t threads, Location loc) {
  MLIRContext *ctx = module.getContext();
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(module.getBody());
  auto func = gpu::GPUFuncOp::create(
      mb, loc, name, FunctionType::get(ctx, argTypes, {}), workgroup);
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), mb.getUnitAttr());
  func.setKnownBlockSizeAttr(
      mb.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  return func;
}
