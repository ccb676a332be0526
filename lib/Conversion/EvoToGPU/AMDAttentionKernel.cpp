//===- AMDAttentionKernel.cpp - Flash pair-bias attention on MFMA ---------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The flash attention design of AttentionKernel.cpp on CDNA (wave64,
// amdgpu.mfma 16x16x16). MFMA's C layout (lane l: rows 4q..4q+3 of column
// r, with r = l % 16, q = l / 16) is the transpose of its A layout, so the
// kernel computes transposed products, which keeps P in registers:
//
//   S^T = K Q^T   A = K tile rows (keys), B = Q^T: this lane's query r,
//                 head dims 4q..4q+3 (kept in registers for the whole loop);
//                 the lane gets S^T[keys 4q..4q+3][query r].
//   O^T += V^T P^T  A = V^T (V staged transposed in LDS), B = P^T, which is
//                 exactly the S^T values the lane already holds; the lane
//                 gets O^T[dims 4q..4q+3][query r]: 4 contiguous outputs.
//
// Each lane owns one query row, so the running max, sum and the rescaling
// are per lane; a row's keys are spread over the 4 lanes r, r+16, r+32,
// r+48 (xor 16 and 32 shuffles). Bias tile and key mask are staged in LDS.
// Numerics are checked only to the instruction level (no AMD GPU here).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"

#include <limits>

using namespace mlir;
using namespace mf::gpu_kernels;

namespace {

constexpr int64_t kWave = 64;
constexpr double kLog2E = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;

} // namespace

gpu::GPUFuncOp mf::gpu_kernels::buildAttentionKernelMFMA(
    gpu::GPUModuleOp module, StringRef name, const AttentionSpec &spec,
    const AttentionTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t waves = tiles.blockQ / 16;
  const int64_t threads = waves * kWave;
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

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value lane = kb.rem(tid, kWave), wave = kb.div(tid, kWave);
  Value r = kb.rem(lane, 16), quad = kb.div(lane, 16);
  Value qTile = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value zBlock = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value sDim = memref::DimOp::create(b, q, 1);
  Value nDim = memref::DimOp::create(b, q, 2);
  // One S row per block here (s_group > 1 is a CUDA-kernel option).
  Value batch = arith::DivUIOp::create(b, zBlock, sDim);
  Value sIdx = arith::RemUIOp::create(b, zBlock, sDim);
  Value lastN = kb.sub(nDim, kb.idx(1));
  Value c0 = kb.idx(0);
  Value qStart = kb.mul(qTile, kb.idx(bq));
  Value localRow = kb.add(kb.mul(wave, kb.idx(16)), r);
  Value qRow = kb.add(qStart, localRow);
  Value qValid = kb.lt(qRow, nDim);
  Value qRowC = kb.minIdx(qRow, lastN);
  Value dLane = kb.mul(quad, kb.idx(4));

  auto vec4 = VectorType::get({4}, elem);
  auto f32x4 = VectorType::get({4}, b.getF32Type());
  Value zero4 = arith::ConstantOp::create(
      b, vec4, DenseElementsAttr::get(vec4, b.getZeroAttr(elem)));
  Value zeroAcc = arith::ConstantOp::create(
      b, f32x4, DenseElementsAttr::get(f32x4, b.getF32FloatAttr(0.0)));

  // Q^T fragments: query qRow, dims 16kk + 4q .. +3 (zero past D).
  SmallVector<Value> qFrag;
  for (int64_t kk = 0; kk < dPad / 16; ++kk) {
    Value dim = kb.add(kb.idx(16 * kk), dLane);
    Value inRange = kb.lt(dim, kb.idx(d));
    Value dimC = kb.minIdx(dim, kb.idx(d - 4));
    Value x = vector::LoadOp::create(b, vec4, q,
                                     ValueRange{batch, sIdx, qRowC, head, dimC},
                                     false, llvm::MaybeAlign(8));
    qFrag.push_back(kb.select(inRange, x, zero4));
  }

  const float negInf = -std::numeric_limits<float>::infinity();
  Value zeroF = kb.f32(0.0), negInfF = kb.f32(negInf);
  const int64_t dTiles = dPad / 16, kTiles = bk / 16;
  SmallVector<Value> init(dTiles, zeroAcc);
  init.append({negInfF, zeroF});
  Value keyTiles = kb.ceilDiv(nDim, bk);
  auto vec8 = VectorType::get({8}, elem);
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
    kb.copyTileToShared(ks, c0, keyStart, bk, nDim, d, dPad, tid, threads,
                        loadRows(k));
    // V transposed: chunk (key, dims d0..d0+7) -> vt[d0 + e][key].
    {
      SmallVector<Value> chunks = kb.loadTileChunks(keyStart, bk, nDim, d, dPad,
                                                    tid, threads, loadRows(v));
      const int64_t perRow = dPad / 8, total = bk * perRow;
      for (auto [step, data] : llvm::enumerate(chunks)) {
        int64_t first = static_cast<int64_t>(step) * threads;
        Value chunk = kb.add(tid, kb.idx(first));
        Value key = kb.div(chunk, perRow);
        Value d0 = kb.mul(kb.rem(chunk, perRow), kb.idx(8));
        auto emit = [&, data = data, key, d0] {
          for (int64_t e = 0; e < 8; ++e)
            memref::StoreOp::create(
                b, vector::ExtractOp::create(b, data, ArrayRef<int64_t>{e}), vt,
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
        Value idx = kb.add(tid, kb.idx(step * threads));
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
      kb.ifThen(kb.lt(tid, kb.idx(bk)), [&] {
        Value key = kb.minIdx(kb.add(keyStart, tid), lastN);
        Value m = memref::LoadOp::create(b, mask,
                                         ValueRange{batch, sIdx, c0, c0, key});
        memref::StoreOp::create(b, arith::ExtUIOp::create(b, b.getI8Type(), m),
                                ms, ValueRange{tid});
      });
    gpu::BarrierOp::create(b);

    // S^T tiles: this lane's keys 16t + 4q + i, its query.
    Value scaleL2 = kb.f32(spec.scale * kLog2E);
    SmallVector<Value> scores; // kTiles x 4, f32
    Value tileMax = negInfF;
    for (int64_t t = 0; t < kTiles; ++t) {
      Value s = zeroAcc;
      for (int64_t kk = 0; kk < dPad / 16; ++kk) {
        Value kf =
            vector::LoadOp::create(b, vec4, ks,
                                   ValueRange{c0, kb.add(kb.idx(16 * t), r),
                                              kb.add(kb.idx(16 * kk), dLane)},
                                   false, llvm::MaybeAlign(8));
        s = kb.amdMfma(kf, qFrag[kk], s);
      }
      Value keyCol = kb.add(kb.idx(16 * t), dLane);
      Value biasVals;
      if (bias)
        biasVals =
            arith::ExtFOp::create(b, f32x4,
                                  Value(vector::LoadOp::create(
                                      b, vec4, bs, ValueRange{localRow, keyCol},
                                      false, llvm::MaybeAlign(8))));
      for (int64_t i = 0; i < 4; ++i) {
        Value key = kb.add(keyCol, kb.idx(i));
        Value allowed = kb.lt(kb.add(keyStart, key), nDim);
        if (mask) {
          Value byte = memref::LoadOp::create(b, ms, ValueRange{key});
          allowed = kb.andI(
              allowed, arith::CmpIOp::create(
                           b, arith::CmpIPredicate::ne, byte,
                           arith::ConstantIntOp::create(b, b.getI8Type(), 0)));
        }
        Value x = kb.fmul(vector::ExtractOp::create(b, s, ArrayRef<int64_t>{i}),
                          scaleL2);
        if (bias)
          x = kb.fadd(x, kb.fmul(vector::ExtractOp::create(
                                     b, biasVals, ArrayRef<int64_t>{i}),
                                 kb.f32(kLog2E)));
        x = kb.select(allowed, x, negInfF);
        tileMax = kb.fmax(tileMax, x);
        scores.push_back(x);
      }
    }
    Value newMax =
        kb.fmax(runMax, kb.laneReduce(tileMax, {16, 32}, kWave, /*max=*/true));
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
    Value alphaV = vector::BroadcastOp::create(b, f32x4, alpha);
    for (Value &a : acc)
      a = arith::MulFOp::create(b, a, alphaV);
    // O^T += V^T P^T, P^T straight from the score registers.
    for (int64_t t = 0; t < kTiles; ++t) {
      Value p = vector::FromElementsOp::create(
          b, f32x4, ArrayRef<Value>(scores).slice(4 * t, 4));
      Value pFrag = arith::TruncFOp::create(b, vec4, p);
      for (int64_t dt = 0; dt < dTiles; ++dt) {
        Value vf =
            vector::LoadOp::create(b, vec4, vt,
                                   ValueRange{kb.add(kb.idx(16 * dt), r),
                                              kb.add(kb.idx(16 * t), dLane)},
                                   false, llvm::MaybeAlign(8));
        acc[dt] = kb.amdMfma(vf, pFrag, acc[dt]);
      }
    }
    SmallVector<Value> yielded(acc);
    yielded.append({newMax, runSum});
    scf::YieldOp::create(b, yielded);
  }

  // Epilogue: this lane's query, dims 16dt + 4q .. +3.
  Value total =
      kb.laneReduce(loop.getResult(dTiles + 1), {16, 32}, kWave, /*max=*/false);
  Value runMax = loop.getResult(dTiles);
  Value positive =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, total, zeroF);
  Value inv =
      kb.select(positive, arith::DivFOp::create(b, kb.f32(1.0), total), zeroF);
  Value invV = vector::BroadcastOp::create(b, f32x4, inv);
  for (int64_t dt = 0; dt < dTiles; ++dt) {
    Value dim = kb.add(kb.idx(16 * dt), dLane);
    if (16 * dt >= d)
      break;
    Value o = arith::MulFOp::create(b, loop.getResult(dt), invV);
    Value dimC = kb.minIdx(dim, kb.idx(d - 4));
    SmallVector<Value> index = {batch, sIdx, qRowC, head, dimC};
    if (gate) {
      Value g = arith::ExtFOp::create(
          b, f32x4,
          Value(vector::LoadOp::create(b, vec4, gate, index, false,
                                       llvm::MaybeAlign(8))));
      SmallVector<Value> gated;
      for (int64_t i = 0; i < 4; ++i)
        gated.push_back(kb.fmul(
            vector::ExtractOp::create(b, o, ArrayRef<int64_t>{i}),
            kb.sigmoid(vector::ExtractOp::create(b, g, ArrayRef<int64_t>{i}))));
      o = vector::FromElementsOp::create(b, f32x4, gated);
    }
    Value narrow = arith::TruncFOp::create(b, vec4, o);
    kb.ifThen(kb.andI(qValid, kb.lt(dim, kb.idx(d))), [&] {
      vector::StoreOp::create(b, narrow, out, index, false,
                              llvm::MaybeAlign(8));
    });
  }
  if (lse) {
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::ONE, runMax, negInfF);
    Value value =
        kb.fmul(kb.fadd(runMax, math::Log2Op::create(b, total)), kb.f32(kLn2));
    value = kb.select(kb.andI(positive, seen), value, negInfF);
    Value first = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, quad, c0);
    kb.ifThen(kb.andI(qValid, first), [&] {
      memref::StoreOp::create(b, value, lse,
                              ValueRange{batch, sIdx, head, qRowC});
    });
  }
  gpu::ReturnOp::create(b);
  return func;
}
