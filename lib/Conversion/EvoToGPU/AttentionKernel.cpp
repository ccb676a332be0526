//===- AttentionKernel.cpp - Flash pair-bias attention on tensor cores ----===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// One block per (query tile, head, batch x group of S rows); each warp owns
// 16 query rows. q, k and v are read in place from [B, S, N, H, D]: a key
// tile of one (b, s, h) is blockK rows of D contiguous elements, H*D apart.
//
//   for each S row of the group: Q tile -> shared -> A fragments (registers)
//   for each key tile:
//     K and V tiles of every S row of the group -> shared
//     bias values of this thread's rows and keys -> registers, once, shared
//       by the S rows of the group (the bias does not depend on s)
//     for each S row: scores = Q K^T (mma.sync), scale and bias folded into
//       log2 units, mask; online softmax (running max and sum in f32);
//       O += P V (mma.sync, P straight from the score registers)
//   O / sum, times sigmoid(gate); the logsumexp when asked.
//
// A fully masked row keeps max = -inf and sum = 0 and writes 0 (lse -inf).
// D is padded to a multiple of 16 with zeros in shared memory.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mf::gpu_kernels;

bool mf::gpu_kernels::attentionKernelSupports(Type elemType, int64_t headDim,
                                              std::string &why) {
  if (!elemType.isBF16() && !elemType.isF16()) {
    why = "the tensor-core attention kernel takes bf16 or f16 operands";
    return false;
  }
  if (headDim % 8 != 0 || headDim > 128) {
    why = "the tensor-core attention kernel needs a head dim that is a "
          "multiple of 8, at most 128";
    return false;
  }
  return true;
}

namespace {

constexpr double kLog2E = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;

/// The running state of one S row of the group, per thread.
struct RowState {
  /// Accumulators of the D/8 output tiles.
  SmallVector<Acc> acc;
  /// Running max (log2 units) and partial sum of rows g and g+8.
  std::array<Value, 2> max, sum;
};

} // namespace

gpu::GPUFuncOp mf::gpu_kernels::buildAttentionKernel(
    gpu::GPUModuleOp module, StringRef name, const AttentionSpec &spec,
    const AttentionTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t warps = tiles.blockQ / 16;
  const int64_t threads = warps * 32;
  const int64_t bq = tiles.blockQ, bk = tiles.blockK, sg = tiles.sGroup;
  const int64_t d = spec.headDim;
  const int64_t dPad = (d + 15) / 16 * 16;
  // 8 extra elements per shared row: ldmatrix's 8 row addresses then fall
  // in distinct banks.
  const int64_t ldsCols = dPad + 8;
  Type elem = spec.elemType;
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto qsType = MemRefType::get({sg, bq, ldsCols}, elem, nullptr, wg);
  auto kvsType = MemRefType::get({sg, bk, ldsCols}, elem, nullptr, wg);
  // The bias tile [bq, bk] (rows padded by 8 elements: the 4-byte fragment
  // reads of a warp then hit distinct banks) and the key mask of each S row
  // as bytes: both staged through shared memory, loaded coalesced.
  auto bsType = MemRefType::get({bq, bk + 8}, elem, nullptr, wg);
  auto msType =
      MemRefType::get({sg, bk}, IntegerType::get(ctx, 8), nullptr, wg);
  SmallVector<Type> workgroup = {qsType, kvsType, kvsType};
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
  Value qs = func.getWorkgroupAttributions()[0];
  Value ks = func.getWorkgroupAttributions()[1];
  Value vs = func.getWorkgroupAttributions()[2];
  unsigned wgIdx = 3;
  Value bs =
      spec.hasBias ? Value(func.getWorkgroupAttributions()[wgIdx++]) : Value();
  Value ms =
      spec.hasMask ? Value(func.getWorkgroupAttributions()[wgIdx++]) : Value();

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value lane = kb.rem(tid, 32), warp = kb.div(tid, 32);
  Value group = kb.div(lane, 4), thread = kb.rem(lane, 4);
  Value qTile = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  Value zBlock = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value sDim = memref::DimOp::create(b, q, 1);
  Value nDim = memref::DimOp::create(b, q, 2);
  Value sGroups = kb.ceilDiv(sDim, sg);
  Value batch = arith::DivUIOp::create(b, zBlock, sGroups);
  Value sBase = kb.mul(arith::RemUIOp::create(b, zBlock, sGroups), kb.idx(sg));
  Value lastS = arith::SubIOp::create(b, sDim, kb.idx(1));
  Value lastN = arith::SubIOp::create(b, nDim, kb.idx(1));
  Value c0 = kb.idx(0);

  // This thread's two query rows (g and g+8 of its warp's 16).
  Value warpRow0 = kb.mul(warp, kb.idx(16));
  std::array<Value, 2> qRow, qValid, qRowClamped;
  for (int r = 0; r < 2; ++r) {
    qRow[r] = kb.add(kb.add(kb.mul(qTile, kb.idx(bq)), warpRow0),
                     kb.add(group, kb.idx(8 * r)));
    qValid[r] = kb.lt(qRow[r], nDim);
    qRowClamped[r] = kb.minIdx(qRow[r], lastN);
  }
  SmallVector<Value> sIdx, sValid, sClamped;
  for (int64_t i = 0; i < sg; ++i) {
    sIdx.push_back(kb.add(sBase, kb.idx(i)));
    sValid.push_back(kb.lt(sIdx.back(), sDim));
    sClamped.push_back(kb.minIdx(sIdx.back(), lastS));
  }

  auto vec8 = VectorType::get({8}, elem);
  auto loadRows = [&](Value src, Value s) {
    return [&, src, s](Value row, Value col) -> Value {
      return vector::LoadOp::create(
          b, vec8, src, ValueRange{batch, s, row, head, col},
          /*nontemporal=*/false, llvm::MaybeAlign(16));
    };
  };

  // Q tiles -> shared -> A fragments, kept in registers for the whole loop.
  Value qTileStart = kb.mul(qTile, kb.idx(bq));
  for (int64_t i = 0; i < sg; ++i)
    kb.copyTileToShared(qs, kb.idx(i), qTileStart, bq, nDim, d, dPad, tid,
                        threads, loadRows(q, sClamped[i]));
  gpu::BarrierOp::create(b);
  SmallVector<SmallVector<FragA>> qFrag(sg);
  for (int64_t i = 0; i < sg; ++i)
    for (int64_t kk = 0; kk < dPad / 16; ++kk)
      qFrag[i].push_back(kb.loadFragA(qs, kb.idx(i), warpRow0, kk * 16, lane));

  // Loop-carried state: per S row, D/8 accumulator tiles, 2 maxima, 2 sums.
  const int64_t dTiles = dPad / 8;
  const float negInf = -std::numeric_limits<float>::infinity();
  Value zeroF = kb.f32(0.0), negInfF = kb.f32(negInf);
  SmallVector<Value> init;
  for (int64_t i = 0; i < sg; ++i) {
    for (int64_t t = 0; t < dTiles * 4; ++t)
      init.push_back(zeroF);
    init.append({negInfF, negInfF, zeroF, zeroF});
  }
  const int64_t stateSize = dTiles * 4 + 4;
  auto unpack = [&](ValueRange flat) {
    SmallVector<RowState> rows(sg);
    for (int64_t i = 0; i < sg; ++i) {
      ValueRange part = flat.slice(i * stateSize, stateSize);
      for (int64_t t = 0; t < dTiles; ++t)
        rows[i].acc.push_back(
            {part[4 * t], part[4 * t + 1], part[4 * t + 2], part[4 * t + 3]});
      rows[i].max = {part[dTiles * 4], part[dTiles * 4 + 1]};
      rows[i].sum = {part[dTiles * 4 + 2], part[dTiles * 4 + 3]};
    }
    return rows;
  };

  // K and V of the next key tile are loaded into registers while the
  // current one is computed on (register double buffering): the loop
  // carries them, stores them to shared memory at the top of the next step.
  Value keyTiles = kb.ceilDiv(nDim, bk);
  auto loadKV = [&](Value keyStart) {
    SmallVector<Value> values;
    for (int64_t i = 0; i < sg; ++i) {
      for (Value src : {k, v})
        llvm::append_range(
            values, kb.loadTileChunks(keyStart, bk, nDim, d, dPad, tid, threads,
                                      loadRows(src, sClamped[i])));
    }
    return values;
  };
  // The bias tile and the mask of the next key step are loaded into
  // registers with the K/V tiles, coalesced: consecutive threads take
  // consecutive pairs of keys of one query row (bias) and consecutive keys
  // (mask); they go to shared memory with K and V.
  const int64_t nTiles = bk / 8;
  const int64_t biasPairs = bq * bk / 2;
  const int64_t biasSteps = (biasPairs + threads - 1) / threads;
  const int64_t maskCount = sg * bk;
  const int64_t maskSteps = (maskCount + threads - 1) / threads;
  Value qStart = kb.mul(qTile, kb.idx(bq));
  auto loadSide = [&](Value keyStart) {
    SmallVector<Value> values;
    if (bias)
      for (int64_t step = 0; step < biasSteps; ++step) {
        Value pair = kb.minIdx(kb.add(tid, kb.idx(step * threads)),
                               kb.idx(biasPairs - 1));
        Value row = kb.minIdx(kb.add(qStart, kb.div(pair, bk / 2)), lastN);
        Value col = kb.mul(kb.rem(pair, bk / 2), kb.idx(2));
        for (int e = 0; e < 2; ++e) {
          Value key =
              kb.minIdx(kb.add(keyStart, kb.add(col, kb.idx(e))), lastN);
          values.push_back(memref::LoadOp::create(
              b, bias, ValueRange{batch, c0, head, row, key}));
        }
      }
    if (mask)
      for (int64_t step = 0; step < maskSteps; ++step) {
        Value idx = kb.minIdx(kb.add(tid, kb.idx(step * threads)),
                              kb.idx(maskCount - 1));
        Value key = kb.minIdx(kb.add(keyStart, kb.rem(idx, bk)), lastN);
        Value s = kb.minIdx(kb.add(sBase, kb.div(idx, bk)), lastS);
        values.push_back(
            memref::LoadOp::create(b, mask, ValueRange{batch, s, c0, c0, key}));
      }
    return values;
  };
  auto storeSide = [&](ValueRange values) {
    auto vec2 = VectorType::get({2}, elem);
    unsigned v = 0;
    if (bias)
      for (int64_t step = 0; step < biasSteps; ++step) {
        Value pair = kb.add(tid, kb.idx(step * threads));
        Value data = vector::FromElementsOp::create(
            b, vec2, ValueRange{values[v], values[v + 1]});
        v += 2;
        auto emit = [&, pair, data] {
          vector::StoreOp::create(
              b, data, bs,
              ValueRange{kb.div(pair, bk / 2),
                         kb.mul(kb.rem(pair, bk / 2), kb.idx(2))},
              false, llvm::MaybeAlign(4));
        };
        if ((step + 1) * threads <= biasPairs)
          emit();
        else
          kb.ifThen(kb.lt(pair, kb.idx(biasPairs)), emit);
      }
    if (mask)
      for (int64_t step = 0; step < maskSteps; ++step) {
        Value idx = kb.add(tid, kb.idx(step * threads));
        Value byte = arith::ExtUIOp::create(b, b.getI8Type(), values[v++]);
        auto emit = [&, idx, byte] {
          memref::StoreOp::create(b, byte, ms,
                                  ValueRange{kb.div(idx, bk), kb.rem(idx, bk)});
        };
        if ((step + 1) * threads <= maskCount)
          emit();
        else
          kb.ifThen(kb.lt(idx, kb.idx(maskCount)), emit);
      }
  };
  auto threadKey = [&](Value keyStart, int64_t j, int e2) {
    return kb.add(keyStart,
                  kb.add(kb.mul(thread, kb.idx(2)), kb.idx(8 * j + e2)));
  };
  SmallVector<Value> firstTile = loadKV(c0);
  const int64_t kvCount = static_cast<int64_t>(firstTile.size());
  const int64_t steps = kvCount / (2 * sg);
  const int64_t stateTotal = sg * stateSize;
  init.append(firstTile);
  init.append(loadSide(c0));
  auto loop = scf::ForOp::create(b, c0, keyTiles, kb.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kt = loop.getInductionVar();
    ValueRange carried = loop.getRegionIterArgs();
    SmallVector<RowState> rows = unpack(carried.take_front(stateTotal));
    ValueRange tile = carried.slice(stateTotal, kvCount);
    ValueRange side = carried.drop_front(stateTotal + kvCount);
    Value keyStart = kb.mul(kt, kb.idx(bk));

    // The previous step's fragments are read: only then overwrite.
    gpu::BarrierOp::create(b);
    for (int64_t i = 0; i < sg; ++i) {
      kb.storeTileChunks(ks, kb.idx(i), bk, dPad, tid, threads,
                         tile.slice((2 * i) * steps, steps));
      kb.storeTileChunks(vs, kb.idx(i), bk, dPad, tid, threads,
                         tile.slice((2 * i + 1) * steps, steps));
    }
    storeSide(side);
    gpu::BarrierOp::create(b);
    Value nextTile = kb.minIdx(kb.add(kt, kb.idx(1)),
                               arith::SubIOp::create(b, keyTiles, kb.idx(1)));
    Value nextStart = kb.mul(nextTile, kb.idx(bk));
    SmallVector<Value> prefetched = loadKV(nextStart);
    llvm::append_range(prefetched, loadSide(nextStart));

    // This thread's keys: n-tile j, element e2 -> keyStart + 8j + 2t + e2.
    SmallVector<std::array<Value, 2>> keyValid(nTiles);
    for (int64_t j = 0; j < nTiles; ++j)
      for (int e2 = 0; e2 < 2; ++e2)
        keyValid[j][e2] = kb.lt(threadKey(keyStart, j, e2), nDim);
    // Bias in log2 units, read once for every S row of the group.
    SmallVector<std::array<std::array<Value, 2>, 2>> biasL2(nTiles);
    auto vec2 = VectorType::get({2}, elem);
    if (bias)
      for (int64_t j = 0; j < nTiles; ++j)
        for (int r = 0; r < 2; ++r) {
          Value row = kb.add(warpRow0, kb.add(group, kb.idx(8 * r)));
          Value col = kb.add(kb.mul(thread, kb.idx(2)), kb.idx(8 * j));
          Value pair = vector::LoadOp::create(b, vec2, bs, ValueRange{row, col},
                                              false, llvm::MaybeAlign(4));
          for (int e2 = 0; e2 < 2; ++e2)
            biasL2[j][r][e2] = kb.fmul(kb.toF32(vector::ExtractOp::create(
                                           b, pair, ArrayRef<int64_t>{e2})),
                                       kb.f32(kLog2E));
        }
    Value scaleL2 = kb.f32(spec.scale * kLog2E);

    SmallVector<Value> yielded;
    for (int64_t i = 0; i < sg; ++i) {
      RowState &st = rows[i];
      // Scores S = Q K^T for the nTiles 16x8 tiles of this warp.
      SmallVector<Acc> scores(nTiles, kb.zeroAcc());
      for (int64_t kk = 0; kk < dPad / 16; ++kk)
        for (int64_t jp = 0; jp < nTiles / 2; ++jp) {
          auto [b0, b1] =
              kb.loadFragBFromNK(ks, kb.idx(i), jp * 16, kk * 16, lane);
          scores[2 * jp] = kb.mma(qFrag[i][kk], b0, scores[2 * jp]);
          scores[2 * jp + 1] = kb.mma(qFrag[i][kk], b1, scores[2 * jp + 1]);
        }
      // Scale, bias, mask; the tile's row maxima.
      std::array<Value, 2> tileMax = {negInfF, negInfF};
      for (int64_t j = 0; j < nTiles; ++j)
        for (int e2 = 0; e2 < 2; ++e2) {
          Value allowed = keyValid[j][e2];
          if (mask) {
            Value byte = memref::LoadOp::create(
                b, ms,
                ValueRange{kb.idx(i), kb.add(kb.mul(thread, kb.idx(2)),
                                             kb.idx(8 * j + e2))});
            allowed =
                kb.andI(allowed,
                        arith::CmpIOp::create(
                            b, arith::CmpIPredicate::ne, byte,
                            arith::ConstantIntOp::create(b, b.getI8Type(), 0)));
          }
          for (int r = 0; r < 2; ++r) {
            Value &s = scores[j][2 * r + e2];
            s = kb.fmul(s, scaleL2);
            if (bias)
              s = kb.fadd(s, biasL2[j][r][e2]);
            s = kb.select(allowed, s, negInfF);
            tileMax[r] = kb.fmax(tileMax[r], s);
          }
        }
      // Online softmax in log2 units.
      std::array<Value, 2> newMax, alpha, rowSum;
      for (int r = 0; r < 2; ++r) {
        newMax[r] = kb.fmax(st.max[r], kb.groupMax(tileMax[r]));
        Value isEmpty = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                              newMax[r], negInfF);
        Value base = kb.select(isEmpty, zeroF, newMax[r]);
        alpha[r] =
            math::Exp2Op::create(b, arith::SubFOp::create(b, st.max[r], base));
        rowSum[r] = zeroF;
        for (int64_t j = 0; j < nTiles; ++j)
          for (int e2 = 0; e2 < 2; ++e2) {
            Value &s = scores[j][2 * r + e2];
            s = math::Exp2Op::create(b, arith::SubFOp::create(b, s, base));
            rowSum[r] = kb.fadd(rowSum[r], s);
          }
        st.sum[r] = kb.fadd(kb.fmul(st.sum[r], alpha[r]), rowSum[r]);
        st.max[r] = newMax[r];
      }
      for (Acc &acc : st.acc)
        for (int e = 0; e < 4; ++e)
          acc[e] = kb.fmul(acc[e], alpha[e / 2]);
      // O += P V, P from the score registers.
      for (int64_t kk = 0; kk < nTiles / 2; ++kk) {
        FragA p = kb.accToFragA(scores[2 * kk], scores[2 * kk + 1]);
        for (int64_t dp = 0; dp < dTiles / 2; ++dp) {
          auto [b0, b1] =
              kb.loadFragBFromKN(vs, kb.idx(i), kk * 16, dp * 16, lane);
          st.acc[2 * dp] = kb.mma(p, b0, st.acc[2 * dp]);
          st.acc[2 * dp + 1] = kb.mma(p, b1, st.acc[2 * dp + 1]);
        }
      }
      for (const Acc &acc : st.acc)
        yielded.append(acc.begin(), acc.end());
      yielded.append({st.max[0], st.max[1], st.sum[0], st.sum[1]});
    }
    yielded.append(prefetched);
    scf::YieldOp::create(b, yielded);
  }

  // Epilogue: normalize, gate, store; logsumexp.
  SmallVector<RowState> rows = unpack(loop.getResults().take_front(stateTotal));
  auto vec2 = VectorType::get({2}, elem);
  for (int64_t i = 0; i < sg; ++i) {
    RowState &st = rows[i];
    for (int r = 0; r < 2; ++r) {
      Value total = kb.groupSum(st.sum[r]);
      Value positive =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, total, zeroF);
      Value inv = kb.select(
          positive, arith::DivFOp::create(b, kb.f32(1.0), total), zeroF);
      Value valid = kb.andI(qValid[r], sValid[i]);
      for (int64_t t = 0; t < d / 8; ++t) {
        Value col = kb.add(kb.mul(thread, kb.idx(2)), kb.idx(8 * t));
        Value o0 = kb.fmul(st.acc[t][2 * r], inv);
        Value o1 = kb.fmul(st.acc[t][2 * r + 1], inv);
        SmallVector<Value> index = {batch, sClamped[i], qRowClamped[r], head,
                                    col};
        if (gate) {
          Value g = vector::LoadOp::create(b, vec2, gate, index,
                                           /*nontemporal=*/false,
                                           llvm::MaybeAlign(4));
          Value g0 = vector::ExtractOp::create(b, g, ArrayRef<int64_t>{0});
          Value g1 = vector::ExtractOp::create(b, g, ArrayRef<int64_t>{1});
          o0 = kb.fmul(o0, kb.sigmoid(kb.toF32(g0)));
          o1 = kb.fmul(o1, kb.sigmoid(kb.toF32(g1)));
        }
        auto f32x2 = VectorType::get({2}, b.getF32Type());
        Value pair =
            vector::FromElementsOp::create(b, f32x2, ValueRange{o0, o1});
        Value narrow = arith::TruncFOp::create(b, vec2, pair);
        kb.ifThen(valid, [&] {
          vector::StoreOp::create(b, narrow, out, index, /*nontemporal=*/false,
                                  llvm::MaybeAlign(4));
        });
      }
      if (lse) {
        Value seen = arith::CmpFOp::create(b, arith::CmpFPredicate::ONE,
                                           st.max[r], negInfF);
        Value logSum = math::Log2Op::create(b, total);
        Value value = kb.fmul(kb.fadd(st.max[r], logSum), kb.f32(kLn2));
        value = kb.select(kb.andI(positive, seen), value, negInfF);
        Value first =
            arith::CmpIOp::create(b, arith::CmpIPredicate::eq, thread, c0);
        kb.ifThen(kb.andI(valid, first), [&] {
          memref::StoreOp::create(
              b, value, lse,
              ValueRange{batch, sClamped[i], head, qRowClamped[r]});
        });
      }
    }
  }
  gpu::ReturnOp::create(b);
  return func;
}
