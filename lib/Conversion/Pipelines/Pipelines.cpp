//===- Pipelines.cpp - named lowering pipelines ---------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mf-lower-to-cpu-pipeline: evo on tensors to the LLVM dialect with one
// packed entry point per public function. Every step is an ordinary pass, so
// `mf-opt --mf-lower-to-cpu-pipeline --mlir-print-ir-after-all` shows them.
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"
#include "mf/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mf::buildCPUPipeline(OpPassManager &pm, const CPUPipelineOptions &options,
                          CPUStage last) {
  // Whole-module view: entries, helpers inlined and dropped.
  pm.addPass(createMarkEntryPointsPass());
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // evo level: fuse, tile, lower the rest to linalg on tensors.
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  if (options.fuse) {
    funcPm.addPass(createEvoFuseTransitionPass());
    funcPm.addPass(createEvoFuseLayerNormLinearPass());
  }
  if (options.tileAttention)
    funcPm.addPass(createEvoTileAttentionPass(
        EvoTileAttentionPassOptions{options.blockQ, options.blockK}));
  if (options.tileRows)
    funcPm.addPass(createEvoTileRowsPass(EvoTileRowsPassOptions{64}));
  if (last == CPUStage::Evo)
    return;
  funcPm.addPass(createConvertEvoToLinalgPass());
  funcPm.addPass(createConvertElementwiseToLinalgPass());
  // No linalg elementwise fusion: its reshape propagation rewrites the
  // linear contractions into forms mf-cpu-vectorize-linear does not match.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  if (last == CPUStage::Linalg)
    return;

  // Buffers: destination style at the entries, deallocation inside.
  pm.addPass(createBufferizeEntryPointsPass());
  pm.addPass(createCanonicalizerPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());

  // Loops, threads.
  OpPassManager &loopPm = pm.nest<func::FuncOp>();
  if (options.vectorizeLinear)
    loopPm.addPass(createCPUVectorizeLinearPass());
  loopPm.addPass(createForallToParallelLoopPass());
  loopPm.addPass(createCPULinalgToLoopsPass());
  if (options.approximateMath)
    pm.addPass(createApproximateMathPass());
  // Arithmetic on bf16 (a residual add of bf16 tensors) in f32 between an
  // extf and a truncf; then bf16 <-> f32 as integer ops: no __truncsfbf2
  // from a compiler runtime.
  arith::ArithEmulateUnsupportedFloatsOptions emulate;
  emulate.sourceTypeStrs = {"bf16"};
  emulate.targetTypeStr = "f32";
  pm.addPass(arith::createArithEmulateUnsupportedFloats(emulate));
  pm.addPass(arith::createArithExpandOpsPass(
      arith::ArithExpandOpsPassOptions{/*includeBf16=*/true}));
  if (options.parallel)
    pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(createCanonicalizerPass());
  if (last == CPUStage::Loops)
    return;

  // LLVM dialect. memref (incl. the alloca scopes of the OpenMP loops) is
  // lowered before scf -> cf, which would split those scopes into blocks.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  // Heap blocks through _mlir_memref_to_llvm_alloc/free, which the runtime
  // provides with a cache of large blocks (no page faults call after call).
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createPackEntryPointsPass());
}

std::string mf::ptxFeaturesForChip(llvm::StringRef chip) {
  // sm_100a needs PTX ISA 8.6; CUDA 13's ptxas takes 8.0 for the rest.
  if (chip.starts_with("sm_10") || chip.starts_with("sm_12"))
    return "+ptx86";
  return "+ptx80";
}

namespace {

/// The target-independent front of the GPU pipelines: entries, fusion,
/// kernels and launches, buffers. Returns false when `last` stops here.
template <typename Options>
bool buildGPUFront(OpPassManager &pm, const Options &options, StringRef target,
                   mf::NVVMStage last) {
  pm.addPass(mf::createMarkEntryPointsPass());
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.fuse) {
    OpPassManager &funcPm = pm.nest<func::FuncOp>();
    funcPm.addPass(mf::createEvoFuseTransitionPass());
    funcPm.addPass(mf::createEvoFuseLayerNormLinearPass());
  }
  if (last == mf::NVVMStage::Evo)
    return false;
  // Tensor-core kernels and their launches; what they do not cover goes to
  // linalg on tensors (the generic path).
  pm.addPass(mf::createConvertEvoToGPUPass(mf::ConvertEvoToGPUPassOptions{
      options.chip, options.tuningTable, target.str(), options.f32AsBf16,
      options.reportGeneric, /*generic=*/true}));
  {
    OpPassManager &funcPm = pm.nest<func::FuncOp>();
    funcPm.addPass(mf::createConvertEvoToLinalgPass());
    funcPm.addPass(createConvertElementwiseToLinalgPass());
    // Fewer generic kernels and intermediate buffers. (Run again after CSE
    // it fuses more, e.g. a bf16 layernorm with its truncation, but the
    // H200 timed the bf16 Pairformer block 17% slower that way; with named
    // ops generalized first, so that transposes fuse too, the f32 block
    // took 57 ms instead of 31 at N = 256.)
    funcPm.addPass(createLinalgElementwiseOpFusionPass());
  }
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Buffers, the returned ones written in place; then the generic kernels
  // for the linalg ops left on the host.
  pm.addPass(mf::createBufferizeEntryPointsPass());
  pm.addPass(createCanonicalizerPass());
  pm.nest<func::FuncOp>().addPass(mf::createGPUHostBuffersPass());
  pm.addPass(mf::createLinalgToGPUPass());
  // One stream per call for launches, allocations and copies (the runtime
  // makes it the caller's stream); gpu-to-llvm lowers gpu.alloc/memcpy only
  // in this async form.
  pm.nest<func::FuncOp>().addPass(createGpuAsyncRegionPass());
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createCanonicalizerPass());
  return last != mf::NVVMStage::Kernels;
}

/// Host code: launches become mgpu* calls, which the runtime provides; the
/// device binaries are embedded; entries are packed.
void buildGPUHost(OpPassManager &pm, GpuModuleToBinaryPassOptions binary) {
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createGpuToLLVMConversionPass());
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(mf::createPackEntryPointsPass());
}

} // namespace

void mf::buildNVVMPipeline(OpPassManager &pm,
                           const NVVMPipelineOptions &options, NVVMStage last) {
  if (!buildGPUFront(pm, options, "cuda", last))
    return;
  // Device code: NVVM, then a binary per gpu.module.
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = ptxFeaturesForChip(options.chip);
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &devicePm = pm.nest<gpu::GPUModuleOp>();
  devicePm.addPass(memref::createExpandStridedMetadataPass());
  devicePm.addPass(createLowerAffinePass());
  devicePm.addPass(createConvertNVGPUToNVVMPass());
  devicePm.addPass(createSCFToControlFlowPass());
  devicePm.addPass(createConvertGpuOpsToNVVMOps());
  // After gpu -> nvvm: its memref patterns must see the vector ops' memrefs.
  devicePm.addPass(createConvertVectorToLLVMPass());
  devicePm.addPass(createUBToLLVMConversionPass());
  devicePm.addPass(createConvertNVVMToLLVMPass());
  devicePm.addPass(createCanonicalizerPass());
  devicePm.addPass(createCSEPass());
  devicePm.addPass(createReconcileUnrealizedCastsPass());

  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.toolkit;
  if (binary.toolkitPath.empty()) {
    const char *cudaHome = std::getenv("CUDA_HOME");
    binary.toolkitPath = cudaHome ? cudaHome : "/usr/local/cuda";
  }
  binary.compilationTarget = options.format;
  buildGPUHost(pm, binary);
}

void mf::buildROCDLPipeline(OpPassManager &pm,
                            const ROCDLPipelineOptions &options,
                            NVVMStage last) {
  if (!buildGPUFront(pm, options, "rocm", last))
    return;
  GpuROCDLAttachTargetOptions target;
  target.chip = options.chip;
  target.abiVersion = options.abi;
  // RDNA chips (gfx10, gfx11) run the WMMA kernels in wave32.
  target.wave64Flag = !StringRef(options.chip).starts_with("gfx1");
  target.optLevel = 3;
  pm.addPass(createGpuROCDLAttachTarget(target));
  OpPassManager &devicePm = pm.nest<gpu::GPUModuleOp>();
  devicePm.addPass(memref::createExpandStridedMetadataPass());
  devicePm.addPass(createLowerAffinePass());
  devicePm.addPass(createConvertAMDGPUToROCDLPass(
      ConvertAMDGPUToROCDLPassOptions{options.chip}));
  devicePm.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToROCDLOpsOptions rocdl;
  rocdl.chipset = options.chip;
  devicePm.addPass(createConvertGpuOpsToROCDLOps(rocdl));
  devicePm.addPass(createConvertVectorToLLVMPass());
  devicePm.addPass(createUBToLLVMConversionPass());
  devicePm.addPass(createCanonicalizerPass());
  devicePm.addPass(createCSEPass());
  devicePm.addPass(createReconcileUnrealizedCastsPass());

  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  buildGPUHost(pm, binary);
}

void mf::registerPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "mf-lower-to-cpu-pipeline",
      "Lower evo modules to the LLVM dialect for the CPU (fusion, flash "
      "attention tiling, bufferization, OpenMP loops, packed entry points)",
      [](OpPassManager &pm, const CPUPipelineOptions &options) {
        buildCPUPipeline(pm, options);
      });
  PassPipelineRegistration<NVVMPipelineOptions>(
      "mf-lower-to-nvvm-pipeline",
      "Lower evo modules for NVIDIA GPUs: fusion, tensor-core kernels "
      "(mma.sync), generic kernels for the rest, NVVM, a fatbin per "
      "gpu.module, host code calling mgpu*",
      [](OpPassManager &pm, const NVVMPipelineOptions &options) {
        buildNVVMPipeline(pm, options);
      });
  PassPipelineRegistration<ROCDLPipelineOptions>(
      "mf-lower-to-rocdl-pipeline",
      "Lower evo modules for AMD GPUs: fusion, MFMA kernels (gfx90a, "
      "gfx942) or WMMA kernels (gfx1100), generic kernels for the rest, "
      "ROCDL, an HSACO per gpu.module (device libraries from $ROCM_PATH), "
      "host code calling mgpu*",
      [](OpPassManager &pm, const ROCDLPipelineOptions &options) {
        buildROCDLPipeline(pm, options);
      });
}
