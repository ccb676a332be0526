//===- mf-compile.cpp - evo modules to runnable artifacts -----------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mf-compile model.mlir --target=cpu -o model.mfa
//
// Parses an evo module, derives each public function's signature (argument
// names from the source, dtypes, static dims and dynamic-dim symbols), runs
// the target pipeline, and writes one self-describing artifact: a manifest
// plus the host code (a shared object for the CPU). --emit stops at a stage
// for inspection.
//
//===----------------------------------------------------------------------===//

#include "EntrySignatures.h"

#include "mf/Conversion/Passes.h"
#include "mf/InitAllDialects.h"
#include "mf/InitAllPasses.h"
#include "mf/runtime/artifact.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/AsmParser/AsmParserState.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Operator.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string>
    inputFilename(cl::Positional, cl::desc("<input .mlir>"), cl::Required);
static cl::opt<std::string> outputFilename("o", cl::desc("Output file"),
                                           cl::value_desc("file"),
                                           cl::init("-"));
static cl::opt<std::string>
    target("target", cl::desc("Target: cpu, cuda or rocm"), cl::init("cpu"));
static cl::opt<std::string>
    chip("chip",
         cl::desc("Chip: a CPU name (default: this host's) or "
                  "sm_90a / gfx942 for the GPU targets"),
         cl::init(""));
static cl::opt<std::string>
    emit("emit",
         cl::desc("What to write: artifact (default), evo (fused and tiled), "
                  "linalg, loops, llvm (LLVM dialect), llvm-ir, obj; cuda: "
                  "ptx and fatbin; rocm: isa and hsaco (the device code)"),
         cl::init("artifact"));
static cl::opt<bool> noFusion("no-fusion",
                              cl::desc("Do not run the evo fusion passes"),
                              cl::init(false));
static cl::opt<bool> noTiling("no-attention-tiling",
                              cl::desc("Lower attention without tiling "
                                       "(materializes the scores)"),
                              cl::init(false));
static cl::opt<bool> noParallel("no-parallel",
                                cl::desc("Do not use OpenMP threads"),
                                cl::init(false));
static cl::opt<int64_t> blockQ("block-q", cl::desc("Attention query block"),
                               cl::init(32));
static cl::opt<int64_t> blockK("block-k", cl::desc("Attention key block"),
                               cl::init(64));
static cl::opt<bool> printResourceUsage(
    "print-resource-usage",
    cl::desc("rocm: print each kernel's VGPRs, AGPRs, SGPRs, LDS, scratch "
             "and occupancy (from the code object metadata; occupancy "
             "modelled for CDNA's wave64) and exit"),
    cl::init(false));
static cl::opt<int>
    codeObject("code-object",
               cl::desc("rocm: AMDHSA code object version, 6 (default) or 5"),
               cl::init(6));
static cl::opt<std::string> tuningTable(
    "tuning-table",
    cl::desc("cuda: JSON table of kernel tile sizes per chip and shape "
             "(default: the built-in table)"),
    cl::init(""));

static cl::opt<bool> f32AsBf16(
    "gpu-f32-as-bf16",
    cl::desc("cuda, rocm: run f32 attention, linear and transition on the "
             "bf16 tensor-core kernels (operands rounded to bf16, f32 "
             "accumulation; errors ~1e-2 instead of ~1e-6). Default: exact "
             "f32 on the generic kernels"),
    cl::init(false));

static cl::opt<bool> reportGeneric(
    "report-generic",
    cl::desc("cuda, rocm: a remark on every evo op that runs on the generic "
             "kernels instead of the tensor cores, saying why"),
    cl::init(false));

/// Prints the resources of every AMDGPU kernel, read from the code object
/// metadata (amdhsa.kernels) of the module's assembly, and the occupancy
/// they allow on CDNA: waves per SIMD, limited by the 512 unified VGPR/AGPR
/// registers per lane (granule 8) and by 64 KiB of LDS per CU, at most 8.
static bool printKernelResources(ModuleOp module) {
  std::string isa;
  module->walk([&](gpu::BinaryOp binary) {
    for (Attribute object : binary.getObjects())
      isa += cast<gpu::ObjectAttr>(object).getObject().getValue().str();
  });
  if (isa.empty()) {
    llvm::errs() << "mf-compile: error: the module has no device code\n";
    return false;
  }
  llvm::outs() << llvm::formatv(
      "{0,-44} {1,5} {2,5} {3,5} {4,7} {5,7} {6,7} {7,10}\n", "kernel", "VGPRs",
      "AGPRs", "SGPRs", "LDS", "scratch", "threads", "waves/SIMD");
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(isa).split(lines, '\n');
  llvm::StringMap<int64_t> k;
  std::string name;
  int kernels = 0;
  auto flush = [&] {
    if (name.empty())
      return;
    int64_t threads = k.lookup(".max_flat_workgroup_size");
    int64_t lds = k.lookup(".group_segment_fixed_size");
    std::string waves = "-"; // Only modelled for CDNA (wave64).
    if (k.lookup(".wavefront_size") == 64) {
      int64_t regs =
          llvm::alignTo(k.lookup(".vgpr_count"), 4) + k.lookup(".agpr_count");
      regs = std::max<int64_t>(8, llvm::alignTo(regs, 8));
      int64_t perSimd = std::min<int64_t>(8, 512 / regs);
      if (lds > 0 && threads > 0)
        perSimd = std::min(perSimd, (65536 / lds) * ((threads + 63) / 64) / 4);
      waves = std::to_string(perSimd);
    }
    llvm::outs() << llvm::formatv(
        "{0,-44} {1,5} {2,5} {3,5} {4,7} {5,7} {6,7} {7,10}\n", name,
        k.lookup(".vgpr_count"), k.lookup(".agpr_count"),
        k.lookup(".sgpr_count"), lds, k.lookup(".private_segment_fixed_size"),
        threads, waves);
    ++kernels;
    name.clear();
    k.clear();
  };
  for (llvm::StringRef line : lines) {
    // Each kernel's map starts with "  - .<key>:" (its first key); the
    // argument maps inside it are indented further.
    llvm::StringRef rest = line;
    if (rest.consume_front("  - .")) {
      flush();
      name = "?";
      auto [key, value] = rest.split(':');
      if (!value.trim().empty())
        value.trim().getAsInteger(10, k[("." + key).str()]);
      continue;
    }
    if (name.empty() || !line.starts_with("    .") || line.starts_with("     "))
      continue;
    auto [key, value] = line.trim().split(':');
    value = value.trim();
    if (key == ".name")
      name = value.str();
    else if (!value.empty())
      value.getAsInteger(10, k[key]);
  }
  flush();
  if (kernels == 0) {
    llvm::errs() << "mf-compile: error: no kernel metadata in the assembly\n";
    return false;
  }
  return true;
}

/// Prints `message` as mf-compile's error and returns 1.
static int fail(const llvm::Twine &message) {
  llvm::errs() << "mf-compile: error: " << message << "\n";
  return 1;
}

/// Writes `bytes` to the output file (or stdout for "-").
static LogicalResult writeOutput(llvm::StringRef bytes) {
  std::string error;
  auto out = openOutputFile(outputFilename, &error);
  if (!out) {
    llvm::errs() << "mf-compile: error: " << error << "\n";
    return failure();
  }
  out->os() << bytes;
  out->keep();
  return success();
}

/// The names of each function's arguments as written in the source.
static llvm::DenseMap<llvm::StringRef, std::vector<std::string>>
collectArgNames(ModuleOp module, const AsmParserState &state) {
  llvm::DenseMap<llvm::StringRef, std::vector<std::string>> names;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    const AsmParserState::BlockDefinition *def =
        state.getBlockDef(&func.getBody().front());
    if (!def)
      continue;
    std::vector<std::string> &list = names[func.getName()];
    for (const AsmParserState::SMDefinition &arg : def->arguments) {
      const char *start = arg.loc.Start.getPointer();
      const char *end = arg.loc.End.getPointer();
      std::string name(start, end);
      if (!name.empty() && name.front() == '%')
        name.erase(0, 1);
      list.push_back(name);
    }
  }
  return names;
}

/// The manifest JSON with the host blob at `blobOffset`.
static std::string
renderManifest(const std::vector<mf::EntrySignature> &entries,
               llvm::StringRef target, llvm::StringRef cpu, uint64_t blobOffset,
               uint64_t blobSize, uint64_t blobChecksum) {
  llvm::json::Array jsonEntries;
  for (const mf::EntrySignature &entry : entries) {
    llvm::json::Array args;
    for (const mf::ArgSignature &arg : entry.args) {
      llvm::json::Array shape;
      for (auto [dim, symbol] : llvm::zip(arg.dims, arg.symbols)) {
        if (dim >= 0)
          shape.push_back(dim);
        else
          shape.push_back(symbol);
      }
      args.push_back(
          llvm::json::Object{{"name", arg.name},
                             {"role", arg.isOutput ? "output" : "input"},
                             {"dtype", arg.dtype},
                             {"shape", std::move(shape)}});
    }
    jsonEntries.push_back(
        llvm::json::Object{{"name", entry.name},
                           {"symbol", "_mf_entry_" + entry.name},
                           {"host_blob", "host"},
                           {"args", std::move(args)}});
  }
  llvm::json::Object manifest{
      {"format_version", static_cast<int64_t>(mf::artifact::kFormatVersion)},
      {"target", target},
      {"chip", cpu},
      {"producer", "mf-compile 0.1"},
      {"blobs", llvm::json::Array{llvm::json::Object{
                    {"name", "host"},
                    {"kind", mf::artifact::kBlobKindElfSharedObject},
                    {"offset", static_cast<int64_t>(blobOffset)},
                    {"size", static_cast<int64_t>(blobSize)},
                    {"checksum", mf::artifact::formatChecksum(blobChecksum)}}}},
      {"entries", std::move(jsonEntries)}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(manifest));
  return text;
}

/// Links `objectPath` into a shared object at `soPath` with ld.lld, against
/// the OpenMP runtime.
static LogicalResult linkSharedObject(llvm::StringRef objectPath,
                                      llvm::StringRef soPath, bool openmp) {
  std::string lld = MF_LLVM_BIN_DIR "/ld.lld";
  std::string libDir = MF_LLVM_LIB_DIR;
  llvm::SmallVector<llvm::StringRef> args = {
      lld, "-shared", "--no-undefined-version", "-o", soPath, objectPath};
  if (openmp)
    args.append({"-L", libDir, "-rpath", libDir, "-lomp"});
  // ld.lld has no default search path.
  args.append({"-L", "/usr/lib/x86_64-linux-gnu", "-L", "/lib/x86_64-linux-gnu",
               "-lm", "-lc"});
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(lld, args, std::nullopt, {}, 0, 0, &error);
  if (rc != 0) {
    llvm::errs() << "mf-compile: error: linking with " << lld
                 << " failed (exit " << rc << ") " << error << "\n";
    return failure();
  }
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerPassManagerCLOptions();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::ParseCommandLineOptions(argc, argv,
                              "MegaFold-MLIR compiler: evo modules to "
                              "artifacts the mf runtime runs\n");

  static const llvm::StringSet<llvm::MallocAllocator> emits = {
      "artifact", "evo", "linalg", "loops", "llvm", "llvm-ir",
      "obj",      "ptx", "fatbin", "isa",   "hsaco"};
  if (!emits.contains(emit))
    return fail("unknown --emit '" + emit +
                "' (expected artifact, evo, linalg, loops, llvm, llvm-ir, obj, "
                "ptx, fatbin, isa or hsaco)");
  if ((emit == "ptx" || emit == "fatbin") && target != "cuda")
    return fail("--emit=" + emit + " needs --target=cuda");
  if (target != "cpu" && target != "cuda" && target != "rocm")
    return fail("unknown target '" + target + "' (expected cpu, cuda or rocm)");
  const bool cuda = target == "cuda", rocm = target == "rocm";
  const bool gpu = cuda || rocm;
  if (f32AsBf16 && !gpu)
    return fail("--gpu-f32-as-bf16 needs --target=cuda or --target=rocm");
  std::string deviceChip =
      !chip.empty() ? std::string(chip) : (rocm ? "gfx942" : "sm_90a");
  if (cuda && !llvm::StringRef(deviceChip).starts_with("sm_"))
    return fail("--chip '" + deviceChip +
                "' is not a CUDA chip (expected e.g. sm_80, sm_90a, sm_100a)");
  if (rocm && !llvm::StringRef(deviceChip).starts_with("gfx"))
    return fail("--chip '" + deviceChip +
                "' is not an AMD chip (expected e.g. gfx90a, gfx942)");
  if ((emit == "isa" || emit == "hsaco" || printResourceUsage) && !rocm)
    return fail("--emit=" + emit +
                (printResourceUsage ? " / --print-resource-usage" : "") +
                " needs --target=rocm");
  if (codeObject != 5 && codeObject != 6)
    return fail("--code-object must be 5 or 6");
  if (rocm) {
    // The ROCDL serializer links the device libraries (ocml, ockl) from
    // $ROCM_PATH/amdgcn/bitcode and uses $ROCM_PATH/llvm: Debian installs
    // them apart (rocm-device-libs), so point ROCM_PATH at a folder of two
    // links unless the user set it.
    if (!std::getenv("ROCM_PATH")) {
      const char *bitcode = "/usr/lib/x86_64-linux-gnu/amdgcn";
      if (!llvm::sys::fs::is_directory(llvm::Twine(bitcode) + "/bitcode"))
        return fail("the rocm target needs the ROCm device libraries: "
                    "install rocm-device-libs (or set ROCM_PATH)");
      llvm::SmallString<128> dir;
      if (std::error_code ec =
              llvm::sys::fs::createUniqueDirectory("mf-rocm", dir))
        return fail("cannot create a temporary directory: " + ec.message());
      llvm::SmallString<128> llvmLink(dir), amdgcnLink(dir);
      llvm::sys::path::append(llvmLink, "llvm");
      llvm::sys::path::append(amdgcnLink, "amdgcn");
      std::string llvmRoot =
          llvm::sys::path::parent_path(MF_LLVM_BIN_DIR).str();
      if (llvm::sys::fs::create_link(llvmRoot, llvmLink) ||
          llvm::sys::fs::create_link(bitcode, amdgcnLink))
        return fail("cannot create the ROCm links in " + dir.str().str());
      ::setenv("ROCM_PATH", dir.c_str(), 1);
    }
  }
  if (blockQ < 1 || blockK < 1)
    return fail("--block-q and --block-k must be positive");

  DialectRegistry registry;
  mf::registerAllDialects(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &error);
  if (!input)
    return fail(error);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);

  Block parsed;
  AsmParserState asmState;
  if (failed(parseAsmSourceFile(sourceMgr, &parsed, ParserConfig(&context),
                                &asmState)))
    return 1;
  OwningOpRef<ModuleOp> module;
  if (llvm::hasSingleElement(parsed) && isa<ModuleOp>(parsed.front())) {
    module = cast<ModuleOp>(&parsed.front());
    module->getOperation()->remove();
  } else {
    module = ModuleOp::create(FileLineColLoc::get(
        &context, sourceMgr.getMemoryBuffer(1)->getBufferIdentifier(), 0, 0));
    module->getBody()->getOperations().splice(module->getBody()->begin(),
                                              parsed.getOperations());
  }
  if (failed(verify(*module)))
    return 1;
  auto argNames = collectArgNames(*module, asmState);

  // Signatures, computed on a copy with calls inlined.
  OwningOpRef<ModuleOp> copy = module->clone();
  {
    PassManager pm(&context);
    pm.addPass(createInlinerPass());
    pm.addPass(createCanonicalizerPass());
    if (failed(pm.run(*copy)))
      return 1;
  }
  FailureOr<std::vector<mf::EntrySignature>> entries =
      mf::computeEntrySignatures(*copy, argNames);
  if (failed(entries))
    return 1;
  if (entries->empty())
    return fail("'" + inputFilename +
                "' has no public function with a body to compile");

  mf::CPUPipelineOptions options;
  options.fuse = !noFusion;
  options.tileAttention = !noTiling;
  options.parallel = !noParallel;
  options.blockQ = blockQ;
  options.blockK = blockK;
  mf::CPUStage last = mf::CPUStage::LLVM;
  if (emit == "evo")
    last = mf::CPUStage::Evo;
  else if (emit == "linalg")
    last = mf::CPUStage::Linalg;
  else if (emit == "loops")
    last = mf::CPUStage::Loops;
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  if (cuda) {
    mf::NVVMPipelineOptions nvvm;
    nvvm.chip = deviceChip;
    nvvm.fuse = !noFusion;
    nvvm.tuningTable = tuningTable;
    nvvm.f32AsBf16 = f32AsBf16;
    nvvm.reportGeneric = reportGeneric;
    mf::NVVMStage stage = mf::NVVMStage::LLVM;
    if (emit == "evo")
      stage = mf::NVVMStage::Evo;
    else if (emit == "linalg" || emit == "loops")
      stage = mf::NVVMStage::Kernels;
    if (emit == "ptx")
      nvvm.format = "isa";
    mf::buildNVVMPipeline(pm, nvvm, stage);
  } else if (rocm) {
    mf::ROCDLPipelineOptions rocdl;
    rocdl.chip = deviceChip;
    rocdl.fuse = !noFusion;
    rocdl.tuningTable = tuningTable;
    rocdl.f32AsBf16 = f32AsBf16;
    rocdl.reportGeneric = reportGeneric;
    rocdl.abi = codeObject == 5 ? "500" : "600";
    if (emit == "isa" || printResourceUsage)
      rocdl.format = "isa";
    mf::NVVMStage stage = mf::NVVMStage::LLVM;
    if (emit == "evo")
      stage = mf::NVVMStage::Evo;
    else if (emit == "linalg" || emit == "loops")
      stage = mf::NVVMStage::Kernels;
    mf::buildROCDLPipeline(pm, rocdl, stage);
  } else {
    mf::buildCPUPipeline(pm, options, last);
  }
  if (failed(pm.run(*module)))
    return 1;
  if (printResourceUsage)
    return printKernelResources(*module) ? 0 : 1;
  if (emit == "ptx" || emit == "fatbin" || emit == "isa" || emit == "hsaco") {
    // The device code of every gpu.module, as ptxas and cuobjdump read it.
    std::string bytes;
    module->walk([&](gpu::BinaryOp binary) {
      for (Attribute object : binary.getObjects())
        bytes += cast<gpu::ObjectAttr>(object).getObject().getValue().str();
    });
    if (bytes.empty())
      return fail("the module has no device code");
    return failed(writeOutput(bytes)) ? 1 : 0;
  }
  if (emit == "evo" || emit == "linalg" || emit == "loops" || emit == "llvm") {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return failed(writeOutput(text)) ? 1 : 0;
  }

  // LLVM IR, optimized for the chosen CPU.
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getProcessTriple();
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!llvmTarget)
    return fail(error);
  // The host code of a GPU artifact only launches kernels: generic x86-64.
  std::string cpu = gpu            ? std::string("x86-64")
                    : chip.empty() ? llvm::sys::getHostCPUName().str()
                                   : std::string(chip);
  std::string features;
  if (chip.empty() && !gpu) {
    llvm::SubtargetFeatures subtarget;
    for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
      subtarget.AddFeature(name, enabled);
    features = subtarget.getString();
  }
  llvm::TargetOptions targetOptions;
  // Constructors in .init_array, which the dynamic loader runs: the cuda
  // host code loads its device module from one (.ctors needs crtbegin).
  targetOptions.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      llvm::Triple(triple), cpu, features, targetOptions, llvm::Reloc::PIC_));
  if (!machine)
    return fail("cannot create a target machine for CPU '" + cpu + "'");

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmContext, "mf");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  // Reductions (dot products, row sums) may be reassociated so that LLVM
  // vectorizes them; no other fast-math freedom (-inf and NaN are meaningful
  // in attention).
  for (llvm::Function &function : *llvmModule)
    for (llvm::Instruction &inst : llvm::instructions(function))
      if (llvm::isa<llvm::FPMathOperator>(inst)) {
        inst.setHasAllowReassoc(true);
        inst.setHasAllowContract(true);
      }
  llvmModule->setTargetTriple(llvm::Triple(triple));
  llvmModule->setDataLayout(machine->createDataLayout());
  auto optimize = makeOptimizingTransformer(3, 0, machine.get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return fail("LLVM optimization failed: " + llvm::toString(std::move(err)));
  if (emit == "llvm-ir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    return failed(writeOutput(text)) ? 1 : 0;
  }

  llvm::SmallString<128> objectPath, soPath;
  int objectFd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "mf-compile", "o", objectFd, objectPath))
    return fail("cannot create a temporary file: " + ec.message());
  llvm::FileRemover objectRemover(objectPath);
  {
    llvm::raw_fd_ostream os(objectFd, /*shouldClose=*/true);
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    codegen.run(*llvmModule);
  }
  auto readFile = [](llvm::StringRef path) -> std::optional<std::string> {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer)
      return std::nullopt;
    return (*buffer)->getBuffer().str();
  };
  if (emit == "obj") {
    std::optional<std::string> bytes = readFile(objectPath);
    if (!bytes)
      return fail("cannot read back the object file");
    return failed(writeOutput(*bytes)) ? 1 : 0;
  }

  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mf-compile", "so", soPath))
    return fail("cannot create a temporary file: " + ec.message());
  llvm::FileRemover soRemover(soPath);
  if (failed(linkSharedObject(objectPath, soPath, /*openmp=*/!gpu)))
    return 1;
  std::optional<std::string> host = readFile(soPath);
  if (!host)
    return fail("cannot read back the linked shared object");

  uint64_t checksum = mf::artifact::fnv1a64(host->data(), host->size());
  uint64_t base = 0;
  std::string manifest = mf::artifact::renderManifest(
      [&](uint64_t offset) {
        return renderManifest(*entries, target, gpu ? deviceChip : cpu, offset,
                              host->size(), checksum);
      },
      base);
  std::string bytes = mf::artifact::assembleArtifact(manifest, {{base, *host}});
  return failed(writeOutput(bytes)) ? 1 : 0;
}
