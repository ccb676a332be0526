//===- AMDGemmKernels.cpp - LayerNorm -> GEMM kernels on AMD matrix cores -===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The row-block GEMM design of GemmKernels.cpp on CDNA (gfx90a, gfx942):
// wave64, amdgpu.mfma 16x16x16 bf16/f16 with f32 accumulators. Lane l has
// r = l % 16 and q = l / 16:
//  - A fragment (16x16): row r, columns 4q .. 4q+3 (one vector<4>);
//  - B fragment: column r, rows 4q .. 4q+3, so a row-major [n][k] weight
//    gives it as 4 contiguous elements of row n;
//  - C/D (16x16): rows 4q .. 4q+3 of column r (vector<4xf32>).
// A lane thus holds a quarter of one row of x: the LayerNorm statistics are
// a reduction over the 4 lanes r, r+16, r+32, r+48. The transition's hidden
// chunk comes out in the C layout and goes back in as A: that transpose goes
// through LDS (one 16 x blockN tile per wave).
//
// Numerics here are checked only to the instruction level: there is no AMD
// GPU on these machines.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"

using namespace mlir;
using namespace mf::gpu_kernels;

namespace {

constexpr int64_t kWave = 64;

struct WaveRows {
  Value tid, lane, r, q, waveRow, rowCount;
};

WaveRows setUpWaveRows(KernelBuilder &kb, Value x, int64_t blockM) {
  ImplicitLocOpBuilder &b = kb.builder();
  WaveRows w;
  w.tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  w.lane = kb.rem(w.tid, kWave);
  w.r = kb.rem(w.lane, 16);
  w.q = kb.div(w.lane, 16);
  Value block = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  w.waveRow = kb.add(kb.mul(block, kb.idx(blockM)),
                     kb.mul(kb.div(w.tid, kWave), kb.idx(16)));
  w.rowCount = memref::DimOp::create(b, x, 0);
  return w;
}

/// This lane's quarter of row `waveRow + r` of x [M, C], normalized when
/// gamma is given, as C/16 A fragments (vector<4 x elem>).
SmallVector<Value> loadRowFragments(KernelBuilder &kb, const WaveRows &w,
                                    Value x, Value gamma, Value beta,
                                    int64_t channels, double eps) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type elem = kb.elementType();
  auto vec4 = VectorType::get({4}, elem);
  auto f32x4 = VectorType::get({4}, b.getF32Type());
  const int64_t kSteps = channels / 16;
  Value row = kb.minIdx(kb.add(w.waveRow, w.r),
                        arith::SubIOp::create(b, w.rowCount, kb.idx(1)));
  SmallVector<Value> cols, vals;
  for (int64_t kk = 0; kk < kSteps; ++kk) {
    cols.push_back(kb.add(kb.idx(16 * kk), kb.mul(w.q, kb.idx(4))));
    Value v = vector::LoadOp::create(b, vec4, x, ValueRange{row, cols.back()},
                                     false, llvm::MaybeAlign(8));
    vals.push_back(arith::ExtFOp::create(b, f32x4, v));
  }
  if (gamma) {
    Value invC = kb.f32(1.0 / static_cast<double>(channels));
    auto sum4 = [&](Value v) {
      return vector::ReductionOp::create(b, vector::CombiningKind::ADD, v);
    };
    Value sum = kb.f32(0.0);
    for (Value v : vals)
      sum = kb.fadd(sum, sum4(v));
    Value mean =
        kb.fmul(kb.laneReduce(sum, {16, 32}, kWave, /*max=*/false), invC);
    Value meanV = vector::BroadcastOp::create(b, f32x4, mean);
    Value sq = kb.f32(0.0);
    for (Value &v : vals) {
      v = arith::SubFOp::create(b, v, meanV);
      sq = kb.fadd(sq, sum4(arith::MulFOp::create(b, v, v)));
    }
    Value var =
        kb.fmul(kb.laneReduce(sq, {16, 32}, kWave, /*max=*/false), invC);
    Value rstd = math::RsqrtOp::create(b, kb.fadd(var, kb.f32(eps)));
    Value rstdV = vector::BroadcastOp::create(b, f32x4, rstd);
    for (size_t kk = 0; kk < vals.size(); ++kk) {
      Value &v = vals[kk];
      auto load = [&](Value src) -> Value {
        Value raw = vector::LoadOp::create(b, vec4, src, ValueRange{cols[kk]},
                                           false, llvm::MaybeAlign(8));
        return arith::ExtFOp::create(b, f32x4, raw);
      };
      v = arith::AddFOp::create(
          b,
          arith::MulFOp::create(b, arith::MulFOp::create(b, v, rstdV),
                                load(gamma)),
          load(beta));
    }
  }
  SmallVector<Value> frags;
  for (Value v : vals)
    frags.push_back(arith::TruncFOp::create(b, vec4, v));
  return frags;
}

/// The B fragment of columns [n0, n0+16), k-step kk, from a [n][k] LDS tile.
Value loadFragB(KernelBuilder &kb, const WaveRows &w, Value smem, Value slot,
                int64_t n0, int64_t kk) {
  ImplicitLocOpBuilder &b = kb.builder();
  auto vec4 = VectorType::get({4}, kb.elementType());
  return vector::LoadOp::create(
      b, vec4, smem,
      ValueRange{slot, kb.add(kb.idx(n0), w.r),
                 kb.add(kb.idx(16 * kk), kb.mul(w.q, kb.idx(4)))},
      false, llvm::MaybeAlign(8));
}

/// A zero f32 accumulator of one 16x16 tile (4 values per lane).
Value zeroAcc(KernelBuilder &kb) {
  return kb.zeros(VectorType::get({4}, kb.builder().getF32Type()));
}

/// Stores a C tile: rows waveRow + 4q + i, column col0 + r, guarded.
void storeTileC(KernelBuilder &kb, const WaveRows &w, Value out, Value col0,
                int64_t ncols, Value acc, Value bias) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value col = kb.add(col0, w.r);
  Value colValid = kb.lt(col, kb.idx(ncols));
  Value biasVal;
  if (bias)
    biasVal = kb.toF32(memref::LoadOp::create(
        b, bias, ValueRange{kb.minIdx(col, kb.idx(ncols - 1))}));
  for (int64_t i = 0; i < 4; ++i) {
    Value row = kb.add(w.waveRow, kb.add(kb.mul(w.q, kb.idx(4)), kb.idx(i)));
    Value v = vector::ExtractOp::create(b, acc, ArrayRef<int64_t>{i});
    if (bias)
      v = kb.fadd(v, biasVal);
    Value narrow = arith::TruncFOp::create(b, kb.elementType(), v);
    kb.ifThen(kb.andI(kb.lt(row, w.rowCount), colValid), [&] {
      memref::StoreOp::create(b, narrow, out, ValueRange{row, col});
    });
  }
}

} // namespace

int64_t mf::gpu_kernels::amdThreadsPerBlock(int64_t blockM) {
  return blockM / 16 * kWave;
}

gpu::GPUFuncOp mf::gpu_kernels::buildLayerNormLinearKernelMFMA(
    gpu::GPUModuleOp module, StringRef name, const LayerNormLinearSpec &spec,
    const GemmTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t c = spec.inChannels, nOut = spec.outChannels;
  const int64_t bn = tiles.blockN, threads = amdThreadsPerBlock(tiles.blockM);
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto wsType = MemRefType::get({1, bn, c + 8}, spec.elemType, nullptr, wg);
  gpu::GPUFuncOp func =
      createKernelFunc(module, name, spec.argTypes, {wsType}, threads, loc);
  Block &entry = func.getBody().front();
  ImplicitLocOpBuilder b(loc, ctx);
  b.setInsertionPointToStart(&entry);
  KernelBuilder kb(b, spec.elemType);

  unsigned argIdx = 0;
  Value x = entry.getArgument(argIdx++);
  Value gamma = spec.normalize ? entry.getArgument(argIdx++) : Value();
  Value beta = spec.normalize ? entry.getArgument(argIdx++) : Value();
  Value w = entry.getArgument(argIdx++);
  Value bias = spec.hasBias ? entry.getArgument(argIdx++) : Value();
  Value out = entry.getArgument(argIdx++);
  Value ws = func.getWorkgroupAttributions()[0];

  WaveRows rows = setUpWaveRows(kb, x, tiles.blockM);
  SmallVector<Value> xa =
      loadRowFragments(kb, rows, x, gamma, beta, c, spec.eps);
  auto vec8 = VectorType::get({8}, spec.elemType);
  Value c0 = kb.idx(0);
  auto loop =
      scf::ForOp::create(b, c0, kb.idx((nOut + bn - 1) / bn), kb.idx(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value colStart = kb.mul(loop.getInductionVar(), kb.idx(bn));
    gpu::BarrierOp::create(b);
    kb.copyTileToShared(ws, c0, colStart, bn, kb.idx(nOut), c, c, rows.tid,
                        threads, [&](Value row, Value col) -> Value {
                          return vector::LoadOp::create(
                              b, vec8, w, ValueRange{row, col}, false,
                              llvm::MaybeAlign(16));
                        });
    gpu::BarrierOp::create(b);
    for (int64_t nt = 0; nt < bn / 16; ++nt) {
      Value acc = zeroAcc(kb);
      for (int64_t kk = 0; kk < c / 16; ++kk)
        acc = kb.amdMfma(xa[kk], loadFragB(kb, rows, ws, c0, 16 * nt, kk), acc);
      storeTileC(kb, rows, out, kb.add(colStart, kb.idx(16 * nt)), nOut, acc,
                 bias);
    }
  }
  gpu::ReturnOp::create(b);
  return func;
}

gpu::GPUFuncOp mf::gpu_kernels::buildTransitionKernelMFMA(
    gpu::GPUModuleOp module, StringRef name, const TransitionSpec &spec,
    const GemmTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t c = spec.channels, f = spec.hidden, bf = tiles.blockN;
  const int64_t waves = tiles.blockM / 16;
  const int64_t threads = amdThreadsPerBlock(tiles.blockM);
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto upType = MemRefType::get({2, bf, c + 8}, spec.elemType, nullptr, wg);
  auto downType = MemRefType::get({1, c, bf + 8}, spec.elemType, nullptr, wg);
  // Each wave's hidden chunk, [16 rows, bf], for the C -> A transpose.
  auto hType = MemRefType::get({waves, 16, bf + 8}, spec.elemType, nullptr, wg);
  gpu::GPUFuncOp func = createKernelFunc(
      module, name, spec.argTypes, {upType, downType, hType}, threads, loc);
  Block &entry = func.getBody().front();
  ImplicitLocOpBuilder b(loc, ctx);
  b.setInsertionPointToStart(&entry);
  KernelBuilder kb(b, spec.elemType);

  Value x = entry.getArgument(0), gamma = entry.getArgument(1),
        beta = entry.getArgument(2), wUp = entry.getArgument(3),
        wDown = entry.getArgument(4), out = entry.getArgument(5);
  Value ups = func.getWorkgroupAttributions()[0];
  Value downs = func.getWorkgroupAttributions()[1];
  Value hs = func.getWorkgroupAttributions()[2];

  WaveRows rows = setUpWaveRows(kb, x, tiles.blockM);
  Value wave = kb.div(rows.tid, kWave);
  SmallVector<Value> xa =
      loadRowFragments(kb, rows, x, gamma, beta, c, spec.eps);
  auto vec8 = VectorType::get({8}, spec.elemType);
  auto vec4 = VectorType::get({4}, spec.elemType);
  Value c0 = kb.idx(0);
  const int64_t outTiles = c / 16;
  SmallVector<Value> init(outTiles, zeroAcc(kb));
  auto loop = scf::ForOp::create(b, c0, kb.idx(f / bf), kb.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value hStart = kb.mul(loop.getInductionVar(), kb.idx(bf));
    auto loadW = [&](Value src, Value rowOffset, Value colOffset) {
      return [&, src, rowOffset, colOffset](Value row, Value col) -> Value {
        return vector::LoadOp::create(
            b, vec8, src,
            ValueRange{kb.add(row, rowOffset), kb.add(col, colOffset)}, false,
            llvm::MaybeAlign(16));
      };
    };
    gpu::BarrierOp::create(b);
    kb.copyTileToShared(ups, c0, c0, bf, kb.idx(bf), c, c, rows.tid, threads,
                        loadW(wUp, hStart, c0));
    kb.copyTileToShared(ups, kb.idx(1), c0, bf, kb.idx(bf), c, c, rows.tid,
                        threads, loadW(wUp, kb.add(hStart, kb.idx(f)), c0));
    kb.copyTileToShared(downs, c0, c0, c, kb.idx(c), bf, bf, rows.tid, threads,
                        loadW(wDown, c0, hStart));
    gpu::BarrierOp::create(b);
    // Up products and SwiGLU, written to this wave's LDS tile as bf16.
    for (int64_t nt = 0; nt < bf / 16; ++nt) {
      Value a = zeroAcc(kb), g = zeroAcc(kb);
      for (int64_t kk = 0; kk < c / 16; ++kk) {
        a = kb.amdMfma(xa[kk], loadFragB(kb, rows, ups, c0, 16 * nt, kk), a);
        g = kb.amdMfma(xa[kk], loadFragB(kb, rows, ups, kb.idx(1), 16 * nt, kk),
                       g);
      }
      for (int64_t i = 0; i < 4; ++i) {
        Value av = vector::ExtractOp::create(b, a, ArrayRef<int64_t>{i});
        Value gv = vector::ExtractOp::create(b, g, ArrayRef<int64_t>{i});
        Value h =
            arith::TruncFOp::create(b, spec.elemType, kb.fmul(av, kb.silu(gv)));
        memref::StoreOp::create(
            b, h, hs,
            ValueRange{wave, kb.add(kb.mul(rows.q, kb.idx(4)), kb.idx(i)),
                       kb.add(kb.idx(16 * nt), rows.r)});
      }
    }
    gpu::BarrierOp::create(b);
    ValueRange carried = loop.getRegionIterArgs();
    SmallVector<Value> acc(carried.begin(), carried.end());
    for (int64_t kk = 0; kk < bf / 16; ++kk) {
      Value hf = vector::LoadOp::create(
          b, vec4, hs,
          ValueRange{wave, rows.r,
                     kb.add(kb.idx(16 * kk), kb.mul(rows.q, kb.idx(4)))},
          false, llvm::MaybeAlign(8));
      for (int64_t nt = 0; nt < outTiles; ++nt)
        acc[nt] = kb.amdMfma(hf, loadFragB(kb, rows, downs, c0, 16 * nt, kk),
                             acc[nt]);
    }
    scf::YieldOp::create(b, acc);
  }
  for (int64_t nt = 0; nt < outTiles; ++nt)
    storeTileC(kb, rows, out, kb.idx(16 * nt), c, loop.getResult(nt), Value());
  gpu::ReturnOp::create(b);
  return func;
}
