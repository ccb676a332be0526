//===- KernelBuilder.h - Building tensor-core GPU kernels -------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The pieces every generated kernel shares: index arithmetic, cooperative
// global -> shared tile copies with 16-byte vectors, and warp-level matrix
// fragments for mma.sync m16n8k16 (bf16/f16 operands, f32 accumulators).
//
// Fragment layout (PTX ISA, "Matrix Fragments for mma.m16n8k16"): lane l has
// group g = l / 4 and thread t = l % 4.
//  - A (16x16, row-major): 4 registers of two elements: (g, 2t..2t+1),
//    (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..).
//  - B (16x8, "col"): 2 registers: (k = 2t..2t+1, n = g), (k = 2t+8.., n = g).
//  - C/D (16x8, f32): 4 values: (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
// So the accumulators of two adjacent 16x8 tiles are, element for element,
// the A fragment of the next product (flash attention's P, the transition's
// hidden layer): they never leave the registers.
//
//===----------------------------------------------------------------------===//

#ifndef MF_LIB_CONVERSION_EVOTOGPU_KERNELBUILDER_H
#define MF_LIB_CONVERSION_EVOTOGPU_KERNELBUILDER_H

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>

namespace mf::gpu_kernels {

/// Four f32 accumulators of one 16x8 C tile, in fragment order.
using Acc = std::array<mlir::Value, 4>;
/// An A fragment: four registers of two 16-bit elements each (i32 for bf16,
/// vector<2xf16> for f16, as nvvm.mma.sync takes them).
using FragA = std::array<mlir::Value, 4>;
/// A B fragment: two such registers.
using FragB = std::array<mlir::Value, 2>;

/// Builds kernel bodies at the builder's insertion point.
class KernelBuilder {
public:
  KernelBuilder(mlir::ImplicitLocOpBuilder &b, mlir::Type elemType)
      : b(b), elemType(elemType) {}

  mlir::ImplicitLocOpBuilder &builder() { return b; }
  mlir::Type elementType() const { return elemType; }

  // Index and f32 arithmetic.
  mlir::Value idx(int64_t v);
  mlir::Value f32(double v);
  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value sub(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, mlir::Value y);
  mlir::Value div(mlir::Value x, int64_t y);
  mlir::Value rem(mlir::Value x, int64_t y);
  mlir::Value ceilDiv(mlir::Value x, int64_t y);
  mlir::Value minIdx(mlir::Value x, mlir::Value y);
  mlir::Value lt(mlir::Value x, mlir::Value y);
  mlir::Value andI(mlir::Value x, mlir::Value y);
  mlir::Value fadd(mlir::Value x, mlir::Value y);
  mlir::Value fmul(mlir::Value x, mlir::Value y);
  mlir::Value fmax(mlir::Value x, mlir::Value y);
  mlir::Value select(mlir::Value c, mlir::Value x, mlir::Value y);
  /// 1 / (1 + exp(-x)).
  mlir::Value sigmoid(mlir::Value x);
  /// x * sigmoid(x).
  mlir::Value silu(mlir::Value x);
  /// The element type's value `v` extended to f32.
  mlir::Value toF32(mlir::Value v);

  /// Butterfly reduction (max or sum) over the lanes that differ in the
  /// `offsets` bits, in a wave of `width` lanes.
  mlir::Value laneReduce(mlir::Value v, llvm::ArrayRef<int32_t> offsets,
                         int32_t width, bool max);
  /// Reductions over the 4 lanes of an mma.sync fragment group.
  mlir::Value groupMax(mlir::Value v);
  mlir::Value groupSum(mlir::Value v);
  /// A zero constant of `type`.
  mlir::Value zeros(mlir::VectorType type);

  /// Copies rows [rowStart, rowStart + rows) of a row-major global matrix
  /// view into `smem[slot, 0..rows, 0..padCols)` with one 16-byte vector per
  /// thread and step. `load(row, col)` returns the 8-element vector at a
  /// (clamped, in-bounds) row and column of the source; rows at or past
  /// `rowLimit` and columns at or past `cols` are written as zeros, so the
  /// matrix units never see uninitialized shared memory.
  void copyTileToShared(
      mlir::Value smem, mlir::Value slot, mlir::Value rowStart, int64_t rows,
      mlir::Value rowLimit, int64_t cols, int64_t padCols, mlir::Value tid,
      int64_t threads,
      llvm::function_ref<mlir::Value(mlir::Value row, mlir::Value col)> load);

  /// The two halves of copyTileToShared, so that a kernel can issue the
  /// global loads of the next tile before it computes on the current one:
  /// one 8-element vector per thread and step, then the stores.
  llvm::SmallVector<mlir::Value> loadTileChunks(
      mlir::Value rowStart, int64_t rows, mlir::Value rowLimit, int64_t cols,
      int64_t padCols, mlir::Value tid, int64_t threads,
      llvm::function_ref<mlir::Value(mlir::Value row, mlir::Value col)> load);
  void storeTileChunks(mlir::Value smem, mlir::Value slot, int64_t rows,
                       int64_t padCols, mlir::Value tid, int64_t threads,
                       mlir::ValueRange values);

  /// The A fragment of rows [row0, row0+16) and columns [col0, col0+16) of
  /// `smem[slot]` (ldmatrix.x4).
  FragA loadFragA(mlir::Value smem, mlir::Value slot, mlir::Value row0,
                  int64_t col0, mlir::Value lane);
  /// B fragments of two adjacent n-tiles from an [n][k] (row-major, "N x K")
  /// shared matrix: n in [n0, n0+16), k in [k0, k0+16) (ldmatrix.x4).
  std::pair<FragB, FragB> loadFragBFromNK(mlir::Value smem, mlir::Value slot,
                                          int64_t n0, int64_t k0,
                                          mlir::Value lane);
  /// B fragments of two adjacent n-tiles from a [k][n] (row-major, "K x N")
  /// shared matrix (ldmatrix.x4.trans).
  std::pair<FragB, FragB> loadFragBFromKN(mlir::Value smem, mlir::Value slot,
                                          int64_t k0, int64_t n0,
                                          mlir::Value lane);

  /// Packs two f32 into one register of two elements (round to nearest).
  mlir::Value pack(mlir::Value lo, mlir::Value hi);
  /// The A fragment made of the accumulators of two adjacent 16x8 tiles.
  FragA accToFragA(const Acc &left, const Acc &right);

  /// acc + a * b on the tensor cores (mma.sync.m16n8k16, f32 accumulate).
  Acc mma(const FragA &a, const FragB &bFrag, const Acc &acc);
  Acc zeroAcc();

  /// AMD matrix cores, 16x16x16, accumulating into `acc`: amdgpu.mfma
  /// (CDNA, wave64) and amdgpu.wmma (RDNA3, wave32).
  mlir::Value amdMfma(mlir::Value a, mlir::Value bFrag, mlir::Value acc);
  mlir::Value amdWmma(mlir::Value a, mlir::Value bFrag, mlir::Value acc);

  /// Emits `body` under `if (cond)`.
  void ifThen(mlir::Value cond, llvm::function_ref<void()> body);

private:
  mlir::Value fragRegister(mlir::Value ld, int64_t i);

  mlir::ImplicitLocOpBuilder &b;
  mlir::Type elemType;
};

/// Appends an empty kernel `name` to `module`: arguments `argTypes`,
/// workgroup attributions `workgroup`, a known block of `threads` threads.
mlir::gpu::GPUFuncOp createKernelFunc(mlir::gpu::GPUModuleOp module,
                                      llvm::StringRef name,
                                      llvm::ArrayRef<mlir::Type> argTypes,
                                      mlir::TypeRange workgroup,
                                      int64_t threads, mlir::Location loc);

} // namespace mf::gpu_kernels

#endif // MF_LIB_CONVERSION_EVOTOGPU_KERNELBUILDER_H
