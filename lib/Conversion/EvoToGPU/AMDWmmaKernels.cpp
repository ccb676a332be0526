//===- AMDWmmaKernels.cpp - The kernels on RDNA3 WMMA (gfx1100) -----------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The MFMA kernels' design (AMDGemmKernels.cpp, AMDAttentionKernel.cpp) on
// RDNA3's amdgpu.wmma 16x16x16 (wave32). Lane l has r = l % 16, h = l / 16:
//  - A: row r, all 16 k (vector<16>; both halves of the wave hold the same);
//  - B: column r, all 16 k (likewise);
//  - C/D (f32): rows 2i + h of column r, i = 0..7 (vector<8xf32>).
// So a lane holds a whole row of x (the LayerNorm needs no shuffle), and in
// attention S^T = K Q^T gives the lane the keys of one parity for its query:
// one xor-16 exchange completes the P^T column that O^T += V^T P^T takes as
// its B operand. Numerics are checked only to the instruction level.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"

#include <limits>

using namespace mlir;
using namespace mf::gpu_kernels;

namespace {

constexpr int64_t kWave = 32;
constexpr double kLog2E = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;

Value extract(ImplicitLocOpBuilder &b, Value v, int64_t i) {
  return vector::ExtractOp::create(b, v, ArrayRef<int64_t>{i});
}

/// The value of the lane 16 apart (the other half of the wave).
Value exchange(KernelBuilder &kb, Value v) {
  return gpu::ShuffleOp::create(kb.builder(), v, 16, kWave,
                                gpu::ShuffleMode::XOR)
      .getShuffleResult();
}

struct Lanes {
  Value tid, r, h, wave;
};

Lanes setUpLanes(KernelBuilder &kb) {
  ImplicitLocOpBuilder &b = kb.builder();
  Lanes l;
  l.tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value lane = kb.rem(l.tid, kWave);
  l.r = kb.rem(lane, 16);
  l.h = kb.div(lane, 16);
  l.wave = kb.div(l.tid, kWave);
  return l;
}

/// Row `row` of x [M, C] as C/16 A fragments (vector<16>), normalized when
/// gamma is given; the lane holds the whole row.
SmallVector<Value> loadRow(KernelBuilder &kb, Value x, Value row, Value gamma,
                           Value beta, int64_t channels, double eps) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type elem = kb.elementType();
  auto vec16 = VectorType::get({16}, elem);
  auto f32x16 = VectorType::get({16}, b.getF32Type());
  SmallVector<Value> vals;
  for (int64_t kk = 0; kk < channels / 16; ++kk)
    vals.push_back(arith::ExtFOp::create(
        b, f32x16,
        Value(vector::LoadOp::create(b, vec16, x,
                                     ValueRange{row, kb.idx(16 * kk)}, false,
                                     llvm::MaybeAlign(16)))));
  if (gamma) {
    auto sum = [&](Value v) -> Value {
      return vector::ReductionOp::create(b, vector::CombiningKind::ADD, v);
    };
    Value invC = kb.f32(1.0 / static_cast<double>(channels));
    Value total = kb.f32(0.0);
    for (Value v : vals)
      total = kb.fadd(total, sum(v));
    Value mean = vector::BroadcastOp::create(b, f32x16, kb.fmul(total, invC));
    Value sq = kb.f32(0.0);
    for (Value &v : vals) {
      v = arith::SubFOp::create(b, v, mean);
      sq = kb.fadd(sq, sum(arith::MulFOp::create(b, v, v)));
    }
    Value rstd =
        math::RsqrtOp::create(b, kb.fadd(kb.fmul(sq, invC), kb.f32(eps)));
    Value rstdV = vector::BroadcastOp::create(b, f32x16, rstd);
    for (auto [kk, v] : llvm::enumerate(vals)) {
      Value col = kb.idx(16 * static_cast<int64_t>(kk));
      auto load = [&](Value src) -> Value {
        return arith::ExtFOp::create(
            b, f32x16,
            Value(vector::LoadOp::create(b, vec16, src, ValueRange{col}, false,
                                         llvm::MaybeAlign(16))));
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
    frags.push_back(arith::TruncFOp::create(b, vec16, v));
  return frags;
}

/// Stores a C tile (rows rowBase + 2i + h, column col0 + r), guarded.
void storeC(KernelBuilder &kb, const Lanes &l, Value out, Value rowBase,
            Value rows, Value col0, int64_t ncols, Value acc, Value bias) {
  ImplicitLocOpBuilder &b = kb.builder();
  Value col = kb.add(col0, l.r);
  Value colOk = kb.lt(col, kb.idx(ncols));
  Value biasVal;
  if (bias)
    biasVal = kb.toF32(memref::LoadOp::create(
        b, bias, ValueRange{kb.minIdx(col, kb.idx(ncols - 1))}));
  for (int64_t i = 0; i < 8; ++i) {
    Value row = kb.add(rowBase, kb.add(kb.idx(2 * i), l.h));
    Value v = extract(b, acc, i);
    if (bias)
      v = kb.fadd(v, biasVal);
    Value narrow = arith::TruncFOp::create(b, kb.elementType(), v);
    kb.ifThen(kb.andI(kb.lt(row, rows), colOk), [&] {
      memref::StoreOp::create(b, narrow, out, ValueRange{row, col});
    });
  }
}

Value loadB(KernelBuilder &kb, Value smem, Value slot, Value n, int64_t k0) {
  ImplicitLocOpBuilder &b = kb.builder();
  return vector::LoadOp::create(b, VectorType::get({16}, kb.elementType()),
                                smem, ValueRange{slot, n, kb.idx(k0)}, false,
                                llvm::MaybeAlign(16));
}

} // namespace

int64_t mf::gpu_kernels::wmmaThreadsPerBlock(int64_t blockM) {
  return blockM / 16 * kWave;
}

gpu::GPUFuncOp mf::gpu_kernels::buildLayerNormLinearKernelWMMA(
    gpu::GPUModuleOp module, StringRef name, const LayerNormLinearSpec &spec,
    const GemmTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t c = spec.inChannels, nOut = spec.outChannels;
  const int64_t bn = tiles.blockN, threads = wmmaThreadsPerBlock(tiles.blockM);
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

  Lanes l = setUpLanes(kb);
  Value rows = memref::DimOp::create(b, x, 0);
  Value waveRow = kb.add(kb.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                                kb.idx(tiles.blockM)),
                         kb.mul(l.wave, kb.idx(16)));
  Value myRow = kb.minIdx(kb.add(waveRow, l.r), kb.sub(rows, kb.idx(1)));
  SmallVector<Value> xa = loadRow(kb, x, myRow, gamma, beta, c, spec.eps);
  auto vec8 = VectorType::get({8}, spec.elemType);
  auto f32x8 = VectorType::get({8}, b.getF32Type());
  Value c0 = kb.idx(0);
  auto loop =
      scf::ForOp::create(b, c0, kb.idx((nOut + bn - 1) / bn), kb.idx(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value colStart = kb.mul(loop.getInductionVar(), kb.idx(bn));
    gpu::BarrierOp::create(b);
    kb.copyTileToShared(ws, c0, colStart, bn, kb.idx(nOut), c, c, l.tid,
                        threads, [&](Value row, Value col) -> Value {
                          return vector::LoadOp::create(
                              b, vec8, w, ValueRange{row, col}, false,
                              llvm::MaybeAlign(16));
                        });
    gpu::BarrierOp::create(b);
    for (int64_t nt = 0; nt < bn / 16; ++nt) {
      Value acc = kb.zeros(f32x8);
      for (int64_t kk = 0; kk < c / 16; ++kk)
        acc = kb.amdWmma(
            xa[kk], loadB(kb, ws, c0, kb.add(kb.idx(16 * nt), l.r), 16 * kk),
            acc);
      storeC(kb, l, out, waveRow, rows, kb.add(colStart, kb.idx(16 * nt)), nOut,
             acc, bias);
    }
  }
  gpu::ReturnOp::create(b);
  return func;
}

gpu::GPUFuncOp mf::gpu_kernels::buildTransitionKernelWMMA(
    gpu::GPUModuleOp module, StringRef name, const TransitionSpec &spec,
    const GemmTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t c = spec.channels, f = spec.hidden, bf = tiles.blockN;
  const int64_t waves = tiles.blockM / 16;
  const int64_t threads = wmmaThreadsPerBlock(tiles.blockM);
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto upType = MemRefType::get({2, bf, c + 8}, spec.elemType, nullptr, wg);
  auto downType = MemRefType::get({1, c, bf + 8}, spec.elemType, nullptr, wg);
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

  Lanes l = setUpLanes(kb);
  Value rows = memref::DimOp::create(b, x, 0);
  Value waveRow = kb.add(kb.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                                kb.idx(tiles.blockM)),
                         kb.mul(l.wave, kb.idx(16)));
  Value myRow = kb.minIdx(kb.add(waveRow, l.r), kb.sub(rows, kb.idx(1)));
  SmallVector<Value> xa = loadRow(kb, x, myRow, gamma, beta, c, spec.eps);
  auto vec8 = VectorType::get({8}, spec.elemType);
  auto vec16 = VectorType::get({16}, spec.elemType);
  auto f32x8 = VectorType::get({8}, b.getF32Type());
  Value c0 = kb.idx(0);
  const int64_t outTiles = c / 16;
  SmallVector<Value> init(outTiles, kb.zeros(f32x8));
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
    kb.copyTileToShared(ups, c0, c0, bf, kb.idx(bf), c, c, l.tid, threads,
                        loadW(wUp, hStart, c0));
    kb.copyTileToShared(ups, kb.idx(1), c0, bf, kb.idx(bf), c, c, l.tid,
                        threads, loadW(wUp, kb.add(hStart, kb.idx(f)), c0));
    kb.copyTileToShared(downs, c0, c0, c, kb.idx(c), bf, bf, l.tid, threads,
                        loadW(wDown, c0, hStart));
    gpu::BarrierOp::create(b);
    for (int64_t nt = 0; nt < bf / 16; ++nt) {
      Value a = kb.zeros(f32x8), g = kb.zeros(f32x8);
      Value n = kb.add(kb.idx(16 * nt), l.r);
      for (int64_t kk = 0; kk < c / 16; ++kk) {
        a = kb.amdWmma(xa[kk], loadB(kb, ups, c0, n, 16 * kk), a);
        g = kb.amdWmma(xa[kk], loadB(kb, ups, kb.idx(1), n, 16 * kk), g);
      }
      for (int64_t i = 0; i < 8; ++i) {
        Value hv = arith::TruncFOp::create(
            b, spec.elemType,
            kb.fmul(extract(b, a, i), kb.silu(extract(b, g, i))));
        memref::StoreOp::create(
            b, hv, hs, ValueRange{l.wave, kb.add(kb.idx(2 * i), l.h), n});
      }
    }
    gpu::BarrierOp::create(b);
    ValueRange carried = loop.getRegionIterArgs();
    SmallVector<Value> acc(carried.begin(), carried.end());
    for (int64_t kk = 0; kk < bf / 16; ++kk) {
      Value hf = vector::LoadOp::create(
          b, vec16, hs, ValueRange{l.wave, l.r, kb.idx(16 * kk)}, false,
          llvm::MaybeAlign(16));
      for (int64_t nt = 0; nt < outTiles; ++nt)
        acc[nt] = kb.amdWmma(
            hf, loadB(kb, downs, c0, kb.add(kb.idx(16 * nt), l.r), 16 * kk),
            acc[nt]);
    }
    scf::YieldOp::create(b, acc);
  }
  for (int64_t nt = 0; nt < outTiles; ++nt)
    storeC(kb, l, out, waveRow, rows, kb.idx(16 * nt), c, loop.getResult(nt),
           Value());
  gpu::ReturnOp::create(b);
  return func;
}

gpu::GPUFuncOp mf::gpu_kernels::buildAttentionKernelWMMA(
    gpu::GPUModuleOp module, StringRef name, const AttentionSpec &spec,
    const AttentionTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t threads = wmmaThreadsPerBlock(tiles.blockQ);
  const int64_t bq = tiles.blockQ, bk = tiles.blockK;
  const int64_t d = spec.headDim, dPad = (d + 15) / 16 * 16;
  Type elem = spec.elemType;
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto ksType = MemRefType::get({1, bk, dPad + 8}, elem, nullptr, wg);
  auto vtType = MemRefType::get({dPad, bk + 8}, elem, nullptr, wg);
  auto bsType = MemRefType::get({bq, bk + 8}, elem, nullptr, wg);
  auto msType = MemRefType::get({bk}, IntegerType::get(ctx, 8), nullptr, wg);
  SmallVector<Type> workgroup = {ksType, vtType};
  if (spec.hasBias)
    workgroup.push_back(bsType);
  if (spec.hasMask)
    workgroup.push_back(msType);
  gpu::GPUFuncOp func =
      createKernelFunc(module, name, spec.argTypes, workgroup, threads, loc);
  Block &entry = func.getBody().front();
  ImplicitLocOpBuilder b(loc, ctx);
  b.setInsertionPointToStart(&entry);
  KernelBuilder kb(b, elem);

  unsigned argIdx = 0;
  Value q = entry.getArgument(argIdx++), k = entry.getArgument(argIdx++),
        v = entry.getArgument(argIdx++);
  Value mask = spec.hasMask ? entry.getArgument(argIdx++) : Value();
  Value bias = spec.hasBias ? entry.getArgument(argIdx++) : Value();
  Value gate = spec.hasGate ? entry.getArgument(argIdx++) : Value();
  Value out = entry.getArgument(argIdx++);
  Value lse = spec.hasLse ? entry.getArgument(argIdx++) : Value();
  unsigned wgIdx = 0;
  Value ks = func.getWorkgroupAttributions()[wgIdx++];
  Value vt = func.getWorkgroupAttributions()[wgIdx++];
  Value bs =
      spec.hasBias ? Value(func.getWorkgroupAttributions()[wgIdx++]) : Value();
  Value ms =
      spec.hasMask ? Value(func.getWorkgroupAttributions()[wgIdx++]) : Value();

  Lanes l = setUpLanes(kb);
  Value qTile = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value zBlock = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value sDim = memref::DimOp::create(b, q, 1);
  Value nDim = memref::DimOp::create(b, q, 2);
  Value batch = arith::DivUIOp::create(b, zBlock, sDim);
  Value sIdx = arith::RemUIOp::create(b, zBlock, sDim);
  Value lastN = kb.sub(nDim, kb.idx(1));
  Value c0 = kb.idx(0);
  Value qStart = kb.mul(qTile, kb.idx(bq));
  Value localRow = kb.add(kb.mul(l.wave, kb.idx(16)), l.r);
  Value qRow = kb.add(qStart, localRow);
  Value qValid = kb.lt(qRow, nDim);
  Value qRowC = kb.minIdx(qRow, lastN);
  Value hIsZero = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, l.h, c0);

  auto vec8 = VectorType::get({8}, elem);
  auto vec16 = VectorType::get({16}, elem);
  auto f32x8 = VectorType::get({8}, b.getF32Type());
  auto f32x16 = VectorType::get({16}, b.getF32Type());

  // Q^T fragments: this lane's query, all 16 dims of each step (zero past D,
  // built from 8-element loads that never read past the row).
  SmallVector<Value> qFrag;
  for (int64_t kk = 0; kk < dPad / 16; ++kk) {
    Value frag = kb.zeros(vec16);
    for (int64_t half = 0; half < 2; ++half) {
      int64_t d0 = 16 * kk + 8 * half;
      if (d0 >= d)
        continue;
      Value part = vector::LoadOp::create(
          b, vec8, q, ValueRange{batch, sIdx, qRowC, head, kb.idx(d0)}, false,
          llvm::MaybeAlign(16));
      frag = vector::InsertStridedSliceOp::create(
          b, part, frag, ArrayRef<int64_t>{8 * half}, ArrayRef<int64_t>{1});
    }
    qFrag.push_back(frag);
  }

  const float negInf = -std::numeric_limits<float>::infinity();
  Value zeroF = kb.f32(0.0), negInfF = kb.f32(negInf);
  const int64_t dTiles = dPad / 16, kTiles = bk / 16;
  SmallVector<Value> init(dTiles, kb.zeros(f32x8));
  init.append({negInfF, zeroF});
  Value keyTiles = kb.ceilDiv(nDim, bk);
  auto loop = scf::ForOp::create(b, c0, keyTiles, kb.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value keyStart = kb.mul(loop.getInductionVar(), kb.idx(bk));
    ValueRange carried = loop.getRegionIterArgs();
    SmallVector<Value> acc(carried.begin(), carried.begin() + dTiles);
    Value runMax = carried[dTiles], runSum = carried[dTiles + 1];

    gpu::BarrierOp::create(b);
    auto loadRows = [&](Value src) {
      return [&, src](Value row, Value col) -> Value {
        return vector::LoadOp::create(b, vec8, src,
                                      ValueRange{batch, sIdx, row, head, col},
                                      false, llvm::MaybeAlign(16));
      };
    };
    kb.copyTileToShared(ks, c0, keyStart, bk, nDim, d, dPad, l.tid, threads,
                        loadRows(k));
    {
      SmallVector<Value> chunks = kb.loadTileChunks(
          keyStart, bk, nDim, d, dPad, l.tid, threads, loadRows(v));
      const int64_t perRow = dPad / 8, total = bk * perRow;
      for (auto [step, data] : llvm::enumerate(chunks)) {
        int64_t first = static_cast<int64_t>(step) * threads;
        Value chunk = kb.add(l.tid, kb.idx(first));
        Value key = kb.div(chunk, perRow);
        Value d0 = kb.mul(kb.rem(chunk, perRow), kb.idx(8));
        auto emit = [&, data = data, key, d0] {
          for (int64_t e = 0; e < 8; ++e)
            memref::StoreOp::create(b, extract(b, data, e), vt,
                                    ValueRange{kb.add(d0, kb.idx(e)), key});
        };
        if (first + threads <= total)
          emit();
        else
          kb.ifThen(kb.lt(chunk, kb.idx(total)), emit);
      }
    }
    if (bias) {
      const int64_t count = bq * bk;
      for (int64_t step = 0; step * threads < count; ++step) {
        Value idx = kb.add(l.tid, kb.idx(step * threads));
        Value idxC = kb.minIdx(idx, kb.idx(count - 1));
        Value row = kb.div(idxC, bk), col = kb.rem(idxC, bk);
        Value x = memref::LoadOp::create(
            b, bias,
            ValueRange{batch, c0, head, kb.minIdx(kb.add(qStart, row), lastN),
                       kb.minIdx(kb.add(keyStart, col), lastN)});
        auto emit = [&, x, row, col] {
          memref::StoreOp::create(b, x, bs, ValueRange{row, col});
        };
        if ((step + 1) * threads <= count)
          emit();
        else
          kb.ifThen(kb.lt(idx, kb.idx(count)), emit);
      }
    }
    if (mask)
      for (int64_t step = 0; step * threads < bk; ++step) {
        Value idx = kb.add(l.tid, kb.idx(step * threads));
        kb.ifThen(kb.lt(idx, kb.idx(bk)), [&] {
          Value key = kb.minIdx(kb.add(keyStart, idx), lastN);
          Value m = memref::LoadOp::create(
              b, mask, ValueRange{batch, sIdx, c0, c0, key});
          memref::StoreOp::create(b,
                                  arith::ExtUIOp::create(b, b.getI8Type(), m),
                                  ms, ValueRange{idx});
        });
      }
    gpu::BarrierOp::create(b);

    // S^T: the lane's keys 16t + 2i + h for its query.
    Value scaleL2 = kb.f32(spec.scale * kLog2E);
    SmallVector<Value> scores;
    Value tileMax = negInfF;
    for (int64_t t = 0; t < kTiles; ++t) {
      Value s = kb.zeros(f32x8);
      Value keyRow = kb.add(kb.idx(16 * t), l.r);
      for (int64_t kk = 0; kk < dPad / 16; ++kk)
        s = kb.amdWmma(loadB(kb, ks, c0, keyRow, 16 * kk), qFrag[kk], s);
      for (int64_t i = 0; i < 8; ++i) {
        Value key = kb.add(kb.idx(16 * t + 2 * i), l.h);
        Value allowed = kb.lt(kb.add(keyStart, key), nDim);
        if (mask)
          allowed = kb.andI(
              allowed, arith::CmpIOp::create(
                           b, arith::CmpIPredicate::ne,
                           memref::LoadOp::create(b, ms, ValueRange{key}),
                           arith::ConstantIntOp::create(b, b.getI8Type(), 0)));
        Value x = kb.fmul(extract(b, s, i), scaleL2);
        if (bias)
          x = kb.fadd(x, kb.fmul(kb.toF32(memref::LoadOp::create(
                                     b, bs, ValueRange{localRow, key})),
                                 kb.f32(kLog2E)));
        x = kb.select(allowed, x, negInfF);
        tileMax = kb.fmax(tileMax, x);
        scores.push_back(x);
      }
    }
    Value newMax = kb.fmax(runMax, kb.fmax(tileMax, exchange(kb, tileMax)));
    Value isEmpty =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, newMax, negInfF);
    Value base = kb.select(isEmpty, zeroF, newMax);
    Value alpha =
        math::Exp2Op::create(b, arith::SubFOp::create(b, runMax, base));
    Value sum = zeroF;
    for (Value &x : scores) {
      x = math::Exp2Op::create(b, arith::SubFOp::create(b, x, base));
      sum = kb.fadd(sum, x);
    }
    runSum = kb.fadd(kb.fmul(runSum, alpha), sum);
    Value alphaV = vector::BroadcastOp::create(b, f32x8, alpha);
    for (Value &a : acc)
      a = arith::MulFOp::create(b, a, alphaV);
    // P^T column of this lane's query: its own keys of parity h and, by one
    // xor-16 exchange, the other parity's.
    for (int64_t t = 0; t < kTiles; ++t) {
      SmallVector<Value> full(16);
      for (int64_t i = 0; i < 8; ++i) {
        Value mine = scores[8 * t + i];
        Value other = exchange(kb, mine);
        full[2 * i] = kb.select(hIsZero, mine, other);
        full[2 * i + 1] = kb.select(hIsZero, other, mine);
      }
      Value pFrag = arith::TruncFOp::create(
          b, vec16, vector::FromElementsOp::create(b, f32x16, full));
      for (int64_t dt = 0; dt < dTiles; ++dt) {
        Value vf = vector::LoadOp::create(
            b, vec16, vt,
            ValueRange{kb.add(kb.idx(16 * dt), l.r), kb.idx(16 * t)}, false,
            llvm::MaybeAlign(16));
        acc[dt] = kb.amdWmma(vf, pFrag, acc[dt]);
      }
    }
    SmallVector<Value> yielded(acc);
    yielded.append({newMax, runSum});
    scf::YieldOp::create(b, yielded);
  }

  Value partial = loop.getResult(dTiles + 1);
  Value total = kb.fadd(partial, exchange(kb, partial));
  Value runMax = loop.getResult(dTiles);
  Value positive =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, total, zeroF);
  Value inv =
      kb.select(positive, arith::DivFOp::create(b, kb.f32(1.0), total), zeroF);
  for (int64_t dt = 0; dt < dTiles; ++dt)
    for (int64_t i = 0; i < 8; ++i) {
      Value dim = kb.add(kb.idx(16 * dt + 2 * i), l.h);
      Value o = kb.fmul(extract(b, loop.getResult(dt), i), inv);
      Value dimC = kb.minIdx(dim, kb.idx(d - 1));
      SmallVector<Value> index = {batch, sIdx, qRowC, head, dimC};
      if (gate)
        o = kb.fmul(
            o, kb.sigmoid(kb.toF32(memref::LoadOp::create(b, gate, index))));
      Value narrow = arith::TruncFOp::create(b, elem, o);
      kb.ifThen(kb.andI(qValid, kb.lt(dim, kb.idx(d))),
                [&] { memref::StoreOp::create(b, narrow, out, index); });
    }
  if (lse) {
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, runMax, negInfF);
    Value value =
        kb.fmul(kb.fadd(runMax, math::Log2Op::create(b, total)), kb.f32(kLn2));
    value = kb.select(kb.andI(positive, seen), value, negInfF);
    kb.ifThen(kb.andI(qValid, hIsZero), [&] {
      memref::StoreOp::create(b, value, lse,
                              ValueRange{batch, sIdx, head, qRowC});
    });
  }
  gpu::ReturnOp::create(b);
  return func;
}
