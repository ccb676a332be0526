//===- Kernels.h - The generated GPU kernels --------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// One builder per kernel family. Each takes the shapes and element types of
// one evo op plus tile sizes (from the tuning table) and appends a gpu.func
// to a gpu.module. Kernels read and write their operands in place, in the
// evo op's own layout; all offsets are 64-bit (index).
//
//===----------------------------------------------------------------------===//

#ifndef MF_LIB_CONVERSION_EVOTOGPU_KERNELS_H
#define MF_LIB_CONVERSION_EVOTOGPU_KERNELS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mf::gpu_kernels {

/// Tile sizes of the flash attention kernel.
struct AttentionTiles {
  /// Query rows per block: 16 per warp.
  int64_t blockQ = 64;
  /// Keys per step of the key loop (a multiple of 16).
  int64_t blockK = 64;
  /// S rows per block: they share the bias tile, loaded once per key step.
  int64_t sGroup = 2;
};

/// What the attention kernel computes, from the evo op's types.
struct AttentionSpec {
  mlir::Type elemType;
  int64_t heads = 0, headDim = 0;
  bool hasMask = false, hasBias = false, hasGate = false, hasLse = false;
  double scale = 1.0;
  /// Kernel argument types in order: q, k, v, [mask], [bias], [gate], out,
  /// [lse].
  llvm::SmallVector<mlir::Type> argTypes;
};

/// Whether the tensor-core attention kernel handles this shape and type;
/// otherwise `why` says what is missing.
bool attentionKernelSupports(mlir::Type elemType, int64_t headDim,
                             std::string &why);

/// Appends the flash attention kernel `name` to `module`. Launch it with
/// grid (ceil(N / blockQ), H, B * ceil(S / sGroup)) and blockQ / 16 warps.
mlir::gpu::GPUFuncOp buildAttentionKernel(mlir::gpu::GPUModuleOp module,
                                          llvm::StringRef name,
                                          const AttentionSpec &spec,
                                          const AttentionTiles &tiles,
                                          mlir::Location loc);

/// Tile sizes of the row-block GEMM kernels (layernorm_linear, transition).
struct GemmTiles {
  /// Rows per block: 16 per warp.
  int64_t blockM = 64;
  /// Output (or hidden) columns per step.
  int64_t blockN = 64;
};

/// What the LayerNorm -> GEMM kernel computes.
struct LayerNormLinearSpec {
  mlir::Type elemType;
  int64_t inChannels = 0, outChannels = 0;
  bool normalize = true, hasBias = false;
  double eps = 1e-5;
  /// x [M, C], [gamma, beta], w [Nout, C], [b], out [M, Nout].
  llvm::SmallVector<mlir::Type> argTypes;
};

/// What the transition kernel computes.
struct TransitionSpec {
  mlir::Type elemType;
  int64_t channels = 0, hidden = 0;
  double eps = 1e-5;
  /// x [M, C], gamma, beta, w_up [2F, C], w_down [C, F], out [M, C].
  llvm::SmallVector<mlir::Type> argTypes;
};

bool gemmKernelSupports(mlir::Type elemType, int64_t inChannels,
                        std::string &why);

/// Appends the LayerNorm(prologue) -> GEMM kernel; grid ceil(M / blockM).
mlir::gpu::GPUFuncOp buildLayerNormLinearKernel(mlir::gpu::GPUModuleOp module,
                                                llvm::StringRef name,
                                                const LayerNormLinearSpec &spec,
                                                const GemmTiles &tiles,
                                                mlir::Location loc);

/// Appends the transition kernel: LayerNorm prologue, up GEMM with SwiGLU
/// epilogue into registers, down GEMM; grid ceil(M / blockM).
mlir::gpu::GPUFuncOp buildTransitionKernel(mlir::gpu::GPUModuleOp module,
                                           llvm::StringRef name,
                                           const TransitionSpec &spec,
                                           const GemmTiles &tiles,
                                           mlir::Location loc);

/// The same GEMM kernels for AMD CDNA chips (gfx90a, gfx942): wave64,
/// amdgpu.mfma 16x16x16; blockM / 16 waves per block.
mlir::gpu::GPUFuncOp
buildLayerNormLinearKernelMFMA(mlir::gpu::GPUModuleOp module,
                               llvm::StringRef name,
                               const LayerNormLinearSpec &spec,
                               const GemmTiles &tiles, mlir::Location loc);
mlir::gpu::GPUFuncOp buildTransitionKernelMFMA(mlir::gpu::GPUModuleOp module,
                                               llvm::StringRef name,
                                               const TransitionSpec &spec,
                                               const GemmTiles &tiles,
                                               mlir::Location loc);
/// Flash attention for AMD CDNA chips on MFMA (transposed products keep P
/// in registers); one S row per block: grid (ceil(N / blockQ), H, B * S),
/// blockQ / 16 waves of 64 lanes.
mlir::gpu::GPUFuncOp buildAttentionKernelMFMA(mlir::gpu::GPUModuleOp module,
                                              llvm::StringRef name,
                                              const AttentionSpec &spec,
                                              const AttentionTiles &tiles,
                                              mlir::Location loc);
/// The same three kernels for RDNA3 (gfx1100): wave32, amdgpu.wmma
/// 16x16x16; blockM (blockQ) / 16 waves per block.
mlir::gpu::GPUFuncOp buildAttentionKernelWMMA(mlir::gpu::GPUModuleOp module,
                                              llvm::StringRef name,
                                              const AttentionSpec &spec,
                                              const AttentionTiles &tiles,
                                              mlir::Location loc);
mlir::gpu::GPUFuncOp
buildLayerNormLinearKernelWMMA(mlir::gpu::GPUModuleOp module,
                               llvm::StringRef name,
                               const LayerNormLinearSpec &spec,
                               const GemmTiles &tiles, mlir::Location loc);
mlir::gpu::GPUFuncOp buildTransitionKernelWMMA(mlir::gpu::GPUModuleOp module,
                                               llvm::StringRef name,
                                               const TransitionSpec &spec,
                                               const GemmTiles &tiles,
                                               mlir::Location loc);
/// Threads per block of the WMMA kernels.
int64_t wmmaThreadsPerBlock(int64_t blockM);
/// Threads per block of the MFMA kernels.
int64_t amdThreadsPerBlock(int64_t blockM);

} // namespace mf::gpu_kernels

#endif // MF_LIB_CONVERSION_EVOTOGPU_KERNELS_H
