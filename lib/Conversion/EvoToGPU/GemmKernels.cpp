//===- GemmKernels.cpp - LayerNorm -> GEMM kernels on tensor cores --------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Row-block GEMMs over x viewed as [M, C]: a block owns blockM rows, 16 per
// warp. Each warp loads its rows straight into A fragments (no shared
// memory): a thread holds a quarter of each of its two rows, so the
// LayerNorm statistics (f32, two-pass variance) are a 4-lane reduction, and
// the normalized row never exists outside registers.
//
// layernorm_linear: for each tile of blockN output columns, the weight tile
// [blockN, C] goes to shared memory and the warp multiplies; bias in the
// epilogue.
//
// transition: for each chunk of blockN hidden units f, the tiles
// w_up[f, :], w_up[F + f, :] and w_down[:, f] go to shared memory; the up
// products give a and b, h = a * silu(b) (SwiGLU) is repacked in registers
// as the A fragment of the down product, which accumulates into the [16, C]
// output of each warp. The [M, 2F] and [M, F] layers never reach memory.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "Kernels.h"

using namespace mlir;
using namespace mf::gpu_kernels;

bool mf::gpu_kernels::gemmKernelSupports(Type elemType, int64_t inChannels,
                                         std::string &why) {
  if (!elemType.isBF16() && !elemType.isF16()) {
    why = "the tensor-core GEMM kernels take bf16 or f16 operands";
    return false;
  }
  if (inChannels % 16 != 0 || inChannels > 384) {
    why = "the tensor-core GEMM kernels need input channels that are a "
          "multiple of 16, at most 384";
    return false;
  }
  return true;
}

namespace {

/// The per-thread state common to both kernels.
struct RowBlock {
  Value tid, lane, group, thread;
  /// First row of this warp.
  Value warpRow;
  std::array<Value, 2> row, rowValid;
};

RowBlock setUpRows(KernelBuilder &kb, Value x, int64_t blockM) {
  ImplicitLocOpBuilder &b = kb.builder();
  RowBlock rb;
  rb.tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  rb.lane = kb.rem(rb.tid, 32);
  rb.group = kb.div(rb.lane, 4);
  rb.thread = kb.rem(rb.lane, 4);
  Value block = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  rb.warpRow = kb.add(kb.mul(block, kb.idx(blockM)),
                      kb.mul(kb.div(rb.tid, 32), kb.idx(16)));
  Value m = memref::DimOp::create(b, x, 0);
  for (int r = 0; r < 2; ++r) {
    rb.row[r] = kb.add(rb.warpRow, kb.add(rb.group, kb.idx(8 * r)));
    rb.rowValid[r] = kb.lt(rb.row[r], m);
  }
  return rb;
}

/// Loads this warp's 16 rows of x [M, C] as C/16 A fragments, normalized
/// with gamma and beta when `gamma` is set.
SmallVector<FragA> loadNormalizedRows(KernelBuilder &kb, const RowBlock &rb,
                                      Value x, Value gamma, Value beta,
                                      int64_t channels, double eps) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type elem = kb.elementType();
  auto vec2 = VectorType::get({2}, elem);
  Value m = memref::DimOp::create(b, x, 0);
  Value lastRow = arith::SubIOp::create(b, m, kb.idx(1));
  const int64_t kSteps = channels / 16;
  // vals[r][kk][half][e]: row g + 8r, column 16kk + 8half + 2t + e.
  using Pair = std::array<Value, 2>;
  SmallVector<std::array<std::array<Pair, 2>, 2>> vals(kSteps);
  SmallVector<std::array<Value, 2>> cols(kSteps);
  auto loadPair = [&](Value src, ValueRange index) -> Pair {
    Value v =
        vector::LoadOp::create(b, vec2, src, index, false, llvm::MaybeAlign(4));
    return {kb.toF32(vector::ExtractOp::create(b, v, ArrayRef<int64_t>{0})),
            kb.toF32(vector::ExtractOp::create(b, v, ArrayRef<int64_t>{1}))};
  };
  for (int64_t kk = 0; kk < kSteps; ++kk)
    for (int half = 0; half < 2; ++half)
      cols[kk][half] =
          kb.add(kb.mul(rb.thread, kb.idx(2)), kb.idx(16 * kk + 8 * half));
  for (int r = 0; r < 2; ++r) {
    Value row = kb.minIdx(rb.row[r], lastRow);
    for (int64_t kk = 0; kk < kSteps; ++kk)
      for (int half = 0; half < 2; ++half)
        vals[kk][r][half] = loadPair(x, {row, cols[kk][half]});
  }
  if (gamma) {
    Value invC = kb.f32(1.0 / static_cast<double>(channels));
    for (int r = 0; r < 2; ++r) {
      Value sum = kb.f32(0.0);
      for (auto &kv : vals)
        for (Value e : {kv[r][0][0], kv[r][0][1], kv[r][1][0], kv[r][1][1]})
          sum = kb.fadd(sum, e);
      Value mean = kb.fmul(kb.groupSum(sum), invC);
      Value sq = kb.f32(0.0);
      for (auto &kv : vals)
        for (int half = 0; half < 2; ++half)
          for (int e = 0; e < 2; ++e) {
            Value dlt = arith::SubFOp::create(b, kv[r][half][e], mean);
            kv[r][half][e] = dlt;
            sq = kb.fadd(sq, kb.fmul(dlt, dlt));
          }
      Value var = kb.fmul(kb.groupSum(sq), invC);
      Value rstd = math::RsqrtOp::create(b, kb.fadd(var, kb.f32(eps)));
      for (int64_t kk = 0; kk < kSteps; ++kk)
        for (int half = 0; half < 2; ++half) {
          Pair g = loadPair(gamma, {cols[kk][half]});
          Pair bt = loadPair(beta, {cols[kk][half]});
          for (int e = 0; e < 2; ++e) {
            Value &v = vals[kk][r][half][e];
            v = kb.fadd(kb.fmul(kb.fmul(v, rstd), g[e]), bt[e]);
          }
        }
    }
  }
  SmallVector<FragA> frags;
  for (auto &kv : vals)
    frags.push_back(
        {kb.pack(kv[0][0][0], kv[0][0][1]), kb.pack(kv[1][0][0], kv[1][0][1]),
         kb.pack(kv[0][1][0], kv[0][1][1]), kb.pack(kv[1][1][0], kv[1][1][1])});
  return frags;
}

/// Writes the block's [blockM, cols] output tile at columns
/// [col0, col0 + cols) through shared memory: each warp puts its fragments
/// (plus bias) in its rows of `os`, then the block copies the tile out with
/// `width`-element vectors, consecutive threads on consecutive addresses
/// (the fragment layout alone writes 4 bytes per lane, 8 rows apart).
void storeTileStaged(KernelBuilder &kb, const RowBlock &rb, Value out, Value os,
                     Value col0, int64_t cols, int64_t ncols, ArrayRef<Acc> acc,
                     Value bias, int64_t blockM, int64_t threads,
                     Value blockRow) {
  ImplicitLocOpBuilder &b = kb.builder();
  Type elem = kb.elementType();
  auto f32x2 = VectorType::get({2}, b.getF32Type());
  auto vec2 = VectorType::get({2}, elem);
  Value localRow0 = kb.sub(rb.warpRow, blockRow);
  for (auto [j, tile] : llvm::enumerate(acc)) {
    Value col = kb.add(kb.idx(8 * static_cast<int64_t>(j)),
                       kb.mul(rb.thread, kb.idx(2)));
    std::array<Value, 2> biasVal;
    if (bias)
      for (int e = 0; e < 2; ++e) {
        Value c =
            kb.minIdx(kb.add(kb.add(col0, col), kb.idx(e)), kb.idx(ncols - 1));
        biasVal[e] = kb.toF32(memref::LoadOp::create(b, bias, ValueRange{c}));
      }
    for (int r = 0; r < 2; ++r) {
      std::array<Value, 2> v = {tile[2 * r], tile[2 * r + 1]};
      if (bias)
        for (int e = 0; e < 2; ++e)
          v[e] = kb.fadd(v[e], biasVal[e]);
      Value pair =
          vector::FromElementsOp::create(b, f32x2, ValueRange{v[0], v[1]});
      Value row = kb.add(localRow0, kb.add(rb.group, kb.idx(8 * r)));
      vector::StoreOp::create(b, arith::TruncFOp::create(b, vec2, pair), os,
                              ValueRange{row, col}, false, llvm::MaybeAlign(4));
    }
  }
  gpu::BarrierOp::create(b);
  int64_t width = 8;
  while (width > 1 && (ncols % width != 0 || cols % width != 0))
    width /= 2;
  auto vecW = VectorType::get({width}, elem);
  const int64_t perRow = cols / width, chunks = blockM * perRow;
  Value rows = memref::DimOp::create(b, out, 0);
  for (int64_t step = 0; step * threads < chunks; ++step) {
    Value chunk = kb.add(rb.tid, kb.idx(step * threads));
    Value row = kb.div(chunk, perRow);
    Value col = kb.mul(kb.rem(chunk, perRow), kb.idx(width));
    Value globalRow = kb.add(blockRow, row);
    Value globalCol = kb.add(col0, col);
    Value ok = kb.andI(kb.lt(globalRow, rows), kb.lt(globalCol, kb.idx(ncols)));
    if ((step + 1) * threads > chunks)
      ok = kb.andI(ok, kb.lt(chunk, kb.idx(chunks)));
    kb.ifThen(ok, [&] {
      Value data = vector::LoadOp::create(b, vecW, os, ValueRange{row, col},
                                          false, llvm::MaybeAlign(2 * width));
      vector::StoreOp::create(b, data, out, ValueRange{globalRow, globalCol},
                              false, llvm::MaybeAlign(2 * width));
    });
  }
}

} // namespace

gpu::GPUFuncOp mf::gpu_kernels::buildLayerNormLinearKernel(
    gpu::GPUModuleOp module, StringRef name, const LayerNormLinearSpec &spec,
    const GemmTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t c = spec.inChannels, nOut = spec.outChannels;
  const int64_t bn = tiles.blockN, threads = tiles.blockM / 16 * 32;
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto wsType = MemRefType::get({1, bn, c + 8}, spec.elemType, nullptr, wg);
  auto osType =
      MemRefType::get({tiles.blockM, bn + 8}, spec.elemType, nullptr, wg);
  gpu::GPUFuncOp func = createKernelFunc(module, name, spec.argTypes,
                                         {wsType, osType}, threads, loc);
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
  Value os = func.getWorkgroupAttributions()[1];

  RowBlock rb = setUpRows(kb, x, tiles.blockM);
  Value blockRow = kb.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                          kb.idx(tiles.blockM));
  SmallVector<FragA> xa =
      loadNormalizedRows(kb, rb, x, gamma, beta, c, spec.eps);
  auto vec8 = VectorType::get({8}, spec.elemType);
  Value c0 = kb.idx(0);
  auto loop =
      scf::ForOp::create(b, c0, kb.idx((nOut + bn - 1) / bn), kb.idx(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value colStart = kb.mul(loop.getInductionVar(), kb.idx(bn));
    gpu::BarrierOp::create(b);
    kb.copyTileToShared(ws, c0, colStart, bn, kb.idx(nOut), c, c, rb.tid,
                        threads, [&](Value row, Value col) -> Value {
                          return vector::LoadOp::create(
                              b, vec8, w, ValueRange{row, col}, false,
                              llvm::MaybeAlign(16));
                        });
    gpu::BarrierOp::create(b);
    SmallVector<Acc> acc(bn / 8, kb.zeroAcc());
    for (int64_t kk = 0; kk < c / 16; ++kk)
      for (int64_t jp = 0; jp < bn / 16; ++jp) {
        auto [b0, b1] = kb.loadFragBFromNK(ws, c0, jp * 16, kk * 16, rb.lane);
        acc[2 * jp] = kb.mma(xa[kk], b0, acc[2 * jp]);
        acc[2 * jp + 1] = kb.mma(xa[kk], b1, acc[2 * jp + 1]);
      }
    storeTileStaged(kb, rb, out, os, colStart, bn, nOut, acc, bias,
                    tiles.blockM, threads, blockRow);
  }
  gpu::ReturnOp::create(b);
  return func;
}

gpu::GPUFuncOp
mf::gpu_kernels::buildTransitionKernel(gpu::GPUModuleOp module, StringRef name,
                                       const TransitionSpec &spec,
                                       const GemmTiles &tiles, Location loc) {
  MLIRContext *ctx = module.getContext();
  const int64_t c = spec.channels, f = spec.hidden, bf = tiles.blockN;
  const int64_t threads = tiles.blockM / 16 * 32;
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  // Rows of w_up for a and for b; the [C, bf] slice of w_down.
  auto upType = MemRefType::get({2, bf, c + 8}, spec.elemType, nullptr, wg);
  auto downType = MemRefType::get({1, c, bf + 8}, spec.elemType, nullptr, wg);
  auto osType =
      MemRefType::get({tiles.blockM, c + 8}, spec.elemType, nullptr, wg);
  gpu::GPUFuncOp func = createKernelFunc(
      module, name, spec.argTypes, {upType, downType, osType}, threads, loc);
  Block &entry = func.getBody().front();
  ImplicitLocOpBuilder b(loc, ctx);
  b.setInsertionPointToStart(&entry);
  KernelBuilder kb(b, spec.elemType);

  Value x = entry.getArgument(0), gamma = entry.getArgument(1),
        beta = entry.getArgument(2), wUp = entry.getArgument(3),
        wDown = entry.getArgument(4), out = entry.getArgument(5);
  Value ups = func.getWorkgroupAttributions()[0];
  Value downs = func.getWorkgroupAttributions()[1];
  Value os = func.getWorkgroupAttributions()[2];

  RowBlock rb = setUpRows(kb, x, tiles.blockM);
  SmallVector<FragA> xa =
      loadNormalizedRows(kb, rb, x, gamma, beta, c, spec.eps);
  auto vec8 = VectorType::get({8}, spec.elemType);
  Value c0 = kb.idx(0);
  const int64_t outTiles = c / 8;
  SmallVector<Value> init(outTiles * 4, kb.f32(0.0));
  auto loadW = [&](Value src, Value rowOffset, Value colOffset) {
    return [&, src, rowOffset, colOffset](Value row, Value col) -> Value {
      return vector::LoadOp::create(
          b, vec8, src,
          ValueRange{kb.add(row, rowOffset), kb.add(col, colOffset)}, false,
          llvm::MaybeAlign(16));
    };
  };
  // The weight tiles of hidden chunk [hStart, hStart + bf): rows of w_up for
  // a and for b, the [C, bf] columns of w_down. Row limits are exact (F is a
  // multiple of bf): nothing is clamped. The next chunk's tiles are loaded
  // into registers while the current one is computed on.
  auto loadChunk = [&](Value hStart) {
    SmallVector<Value> values = kb.loadTileChunks(
        c0, bf, kb.idx(bf), c, c, rb.tid, threads, loadW(wUp, hStart, c0));
    llvm::append_range(
        values, kb.loadTileChunks(c0, bf, kb.idx(bf), c, c, rb.tid, threads,
                                  loadW(wUp, kb.add(hStart, kb.idx(f)), c0)));
    llvm::append_range(values,
                       kb.loadTileChunks(c0, c, kb.idx(c), bf, bf, rb.tid,
                                         threads, loadW(wDown, c0, hStart)));
    return values;
  };
  SmallVector<Value> first = loadChunk(c0);
  const int64_t upSteps = (bf * c / 8 + threads - 1) / threads;
  const int64_t downSteps = (c * bf / 8 + threads - 1) / threads;
  init.append(first);
  auto loop = scf::ForOp::create(b, c0, kb.idx(f / bf), kb.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value chunk = loop.getInductionVar();
    ValueRange tiles = loop.getRegionIterArgs().drop_front(outTiles * 4);
    gpu::BarrierOp::create(b);
    kb.storeTileChunks(ups, c0, bf, c, rb.tid, threads,
                       tiles.slice(0, upSteps));
    kb.storeTileChunks(ups, kb.idx(1), bf, c, rb.tid, threads,
                       tiles.slice(upSteps, upSteps));
    kb.storeTileChunks(downs, c0, c, bf, rb.tid, threads,
                       tiles.slice(2 * upSteps, downSteps));
    gpu::BarrierOp::create(b);
    Value nextChunk = kb.minIdx(kb.add(chunk, kb.idx(1)), kb.idx(f / bf - 1));
    SmallVector<Value> prefetched = loadChunk(kb.mul(nextChunk, kb.idx(bf)));

    SmallVector<Acc> ua(bf / 8, kb.zeroAcc()), ub(bf / 8, kb.zeroAcc());
    for (int64_t kk = 0; kk < c / 16; ++kk)
      for (int64_t jp = 0; jp < bf / 16; ++jp) {
        auto [a0, a1] = kb.loadFragBFromNK(ups, c0, jp * 16, kk * 16, rb.lane);
        ua[2 * jp] = kb.mma(xa[kk], a0, ua[2 * jp]);
        ua[2 * jp + 1] = kb.mma(xa[kk], a1, ua[2 * jp + 1]);
        auto [b0, b1] =
            kb.loadFragBFromNK(ups, kb.idx(1), jp * 16, kk * 16, rb.lane);
        ub[2 * jp] = kb.mma(xa[kk], b0, ub[2 * jp]);
        ub[2 * jp + 1] = kb.mma(xa[kk], b1, ub[2 * jp + 1]);
      }
    // SwiGLU in registers: h = a * silu(b).
    SmallVector<Acc> h(bf / 8);
    for (int64_t j = 0; j < bf / 8; ++j)
      for (int e = 0; e < 4; ++e)
        h[j][e] = kb.fmul(ua[j][e], kb.silu(ub[j][e]));
    ValueRange carried = loop.getRegionIterArgs();
    SmallVector<Acc> acc(outTiles);
    for (int64_t t = 0; t < outTiles; ++t)
      acc[t] = {carried[4 * t], carried[4 * t + 1], carried[4 * t + 2],
                carried[4 * t + 3]};
    for (int64_t kk = 0; kk < bf / 16; ++kk) {
      FragA hf = kb.accToFragA(h[2 * kk], h[2 * kk + 1]);
      for (int64_t np = 0; np < c / 16; ++np) {
        auto [b0, b1] =
            kb.loadFragBFromNK(downs, c0, np * 16, kk * 16, rb.lane);
        acc[2 * np] = kb.mma(hf, b0, acc[2 * np]);
        acc[2 * np + 1] = kb.mma(hf, b1, acc[2 * np + 1]);
      }
    }
    SmallVector<Value> yielded;
    for (const Acc &a : acc)
      yielded.append(a.begin(), a.end());
    yielded.append(prefetched);
    scf::YieldOp::create(b, yielded);
  }
  ValueRange results = loop.getResults();
  SmallVector<Acc> finalAcc;
  for (int64_t t = 0; t < outTiles; ++t)
    finalAcc.push_back({results[4 * t], results[4 * t + 1], results[4 * t + 2],
                        results[4 * t + 3]});
  // The loop ends after the last step's reads of shared memory by this
  // warp only; `os` is its own buffer, so no barrier is needed first.
  Value blockRow = kb.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                          kb.idx(tiles.blockM));
  storeTileStaged(kb, rb, out, os, c0, c, c, finalAcc, Value(), tiles.blockM,
                  threads, blockRow);
  gpu::ReturnOp::create(b);
  return func;
}
