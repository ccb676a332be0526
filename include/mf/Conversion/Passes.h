//===- Passes.h - evo conversion passes -------------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_CONVERSION_PASSES_H
#define MF_CONVERSION_PASSES_H

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mf {

#define GEN_PASS_DECL
#include "mf/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mf/Conversion/Passes.h.inc"

/// Options of mf-lower-to-cpu-pipeline.
struct CPUPipelineOptions
    : public mlir::PassPipelineOptions<CPUPipelineOptions> {
  Option<bool> fuse{*this, "fuse", llvm::cl::desc("Run the evo fusion passes"),
                    llvm::cl::init(true)};
  Option<bool> tileAttention{
      *this, "tile-attention",
      llvm::cl::desc("Tile attention into the flash form"),
      llvm::cl::init(true)};
  Option<int64_t> blockQ{*this, "block-q",
                         llvm::cl::desc("Attention query rows per block"),
                         llvm::cl::init(32)};
  Option<int64_t> blockK{*this, "block-k",
                         llvm::cl::desc("Attention keys per block"),
                         llvm::cl::init(64)};
  Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("Inline polynomial exp (vectorizable) instead of libm"),
      llvm::cl::init(true)};
  Option<bool> tileRows{
      *this, "tile-rows",
      llvm::cl::desc("Run the row-wise evo ops in blocks of rows (off: the "
                     "Pairformer block crashes expand-strided-metadata with "
                     "it, and layernorm_linear got slower)"),
      llvm::cl::init(false)};
  Option<bool> vectorizeLinear{
      *this, "vectorize-linear",
      llvm::cl::desc("Register-blocked vector code for linear layers"),
      llvm::cl::init(true)};
  Option<bool> parallel{*this, "parallel",
                        llvm::cl::desc("Run parallel loops on OpenMP threads"),
                        llvm::cl::init(true)};
};

/// The stages of the CPU pipeline, in order; mf-compile --emit stops after
/// one of them.
enum class CPUStage {
  /// Fused and tiled evo/scf on tensors.
  Evo,
  /// linalg on tensors, no evo op left.
  Linalg,
  /// memrefs, loops and OpenMP.
  Loops,
  /// The LLVM dialect with packed entry points.
  LLVM,
};

/// Fills `pm` with the evo -> CPU LLVM dialect pipeline, up to and including
/// `last`.
void buildCPUPipeline(mlir::OpPassManager &pm,
                      const CPUPipelineOptions &options,
                      CPUStage last = CPUStage::LLVM);

/// The options both GPU pipelines take for their common, target-independent
/// front (fusion, kernels and launches, the generic path, buffers).
template <typename Derived>
struct GPUFrontOptions : public mlir::PassPipelineOptions<Derived> {
  template <typename T> using Opt = mlir::detail::PassOptions::Option<T>;
  Opt<bool> fuse{*this, "fuse", llvm::cl::desc("Run the evo fusion passes"),
                 llvm::cl::init(true)};
  Opt<std::string> tuningTable{
      *this, "tuning-table",
      llvm::cl::desc("JSON tile-size table (default: the built-in one)"),
      llvm::cl::init("")};
  Opt<bool> reportGeneric{
      *this, "report-generic",
      llvm::cl::desc("A remark on every evo op left to the generic kernels"),
      llvm::cl::init(false)};
  Opt<bool> f32AsBf16{
      *this, "f32-as-bf16",
      llvm::cl::desc("Run f32 evo ops on the bf16 tensor-core kernels "
                     "(operands rounded to bf16, f32 accumulation; like "
                     "PyTorch's float32 matmul precision 'medium') instead "
                     "of the exact f32 generic path"),
      llvm::cl::init(false)};
};

/// Options of mf-lower-to-nvvm-pipeline.
struct NVVMPipelineOptions : public GPUFrontOptions<NVVMPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("CUDA chip: sm_80, sm_90a, sm_100a"),
                           llvm::cl::init("sm_90a")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit for ptxas/fatbinary/libdevice (default: "
                     "$CUDA_HOME, else /usr/local/cuda)"),
      llvm::cl::init("")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Device code format: fatbin (cubin for the chip plus "
                     "PTX for newer ones), bin, isa, offloading"),
      llvm::cl::init("fatbin")};
};

/// The stages of the NVVM pipeline.
enum class NVVMStage {
  /// Fused evo on tensors.
  Evo,
  /// Host code on memrefs plus the gpu.module of generated kernels.
  Kernels,
  /// LLVM dialect host code with the device binary embedded.
  LLVM,
};

/// Fills `pm` with the evo -> NVVM pipeline, up to and including `last`.
void buildNVVMPipeline(mlir::OpPassManager &pm,
                       const NVVMPipelineOptions &options,
                       NVVMStage last = NVVMStage::LLVM);

/// Options of mf-lower-to-rocdl-pipeline.
struct ROCDLPipelineOptions : public GPUFrontOptions<ROCDLPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("AMD chip: gfx90a, gfx942, gfx1100"),
                           llvm::cl::init("gfx942")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Device code format: bin (HSACO), isa (assembly with "
                     "the resource-use comments), offloading"),
      llvm::cl::init("bin")};
  Option<std::string> abi{
      *this, "abi", llvm::cl::desc("Code object version: 600 (v6) or 500 (v5)"),
      llvm::cl::init("600")};
};

/// Fills `pm` with the evo -> ROCDL pipeline (device libraries from
/// $ROCM_PATH/amdgcn/bitcode), up to and including `last`.
void buildROCDLPipeline(mlir::OpPassManager &pm,
                        const ROCDLPipelineOptions &options,
                        NVVMStage last = NVVMStage::LLVM);

/// The PTX ISA features ptxas needs for `chip`.
std::string ptxFeaturesForChip(llvm::StringRef chip);

/// Registers mf-lower-to-cpu-pipeline, mf-lower-to-nvvm-pipeline and
/// mf-lower-to-rocdl-pipeline.
void registerPipelines();

} // namespace mf

#endif // MF_CONVERSION_PASSES_H
