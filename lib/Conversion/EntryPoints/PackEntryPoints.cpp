//===- PackEntryPoints.cpp - uniform entry points for the runtime ---------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// For every `@_mlir_ciface_f` (the C interface of a public function whose
// memref arguments are passed as pointers to their descriptors), adds
// `@_mf_entry_f(ptr %args)` that loads argument i's descriptor pointer from
// args[i] and calls the wrapper. The runtime then calls every entry through
// one signature, `void(void **)`. Preconditions: LLVM dialect, wrappers made
// by func-to-llvm with `llvm.emit_c_interface`, results already turned into
// out-parameters (the wrapper returns void).
//
//===----------------------------------------------------------------------===//

#include "mf/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

#define DEBUG_TYPE "mf-pack-entry-points"

namespace mf {
#define GEN_PASS_DEF_PACKENTRYPOINTSPASS
#include "mf/Conversion/Passes.h.inc"
} // namespace mf

using namespace mlir;

namespace {

static constexpr StringLiteral kCInterfacePrefix = "_mlir_ciface_";
static constexpr StringLiteral kEntryPrefix = "_mf_entry_";

struct PackEntryPointsPass
    : mf::impl::PackEntryPointsPassBase<PackEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LLVM::LLVMFuncOp> wrappers;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      if (func.getName().starts_with(kCInterfacePrefix) && !func.isExternal() &&
          func.getLinkage() != LLVM::Linkage::Internal &&
          func.getLinkage() != LLVM::Linkage::Private)
        wrappers.push_back(func);

    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    for (LLVM::LLVMFuncOp wrapper : wrappers) {
      LLVM::LLVMFunctionType type = wrapper.getFunctionType();
      if (!isa<LLVM::LLVMVoidType>(type.getReturnType())) {
        wrapper.emitError() << "entry point '" << wrapper.getName()
                            << "' must return its results through "
                               "out-parameters";
        return signalPassFailure();
      }
      for (auto [i, param] : llvm::enumerate(type.getParams()))
        if (!isa<LLVM::LLVMPointerType>(param)) {
          wrapper.emitError()
              << "entry point '" << wrapper.getName() << "' argument " << i
              << " is not a memref descriptor pointer but " << param;
          return signalPassFailure();
        }
      std::string name = (kEntryPrefix + wrapper.getName().drop_front(
                                             kCInterfacePrefix.size()))
                             .str();
      Location loc = wrapper.getLoc();
      if (module.lookupSymbol(name)) {
        wrapper.emitError()
            << "entry point symbol '" << name << "' already exists";
        return signalPassFailure();
      }
      auto entry = LLVM::LLVMFuncOp::create(
          b, loc, name,
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&getContext()),
                                      {ptrType}));
      Block *body = entry.addEntryBlock(b);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(body);
      Value args = body->getArgument(0);
      SmallVector<Value> descriptors;
      for (int64_t i = 0, e = type.getNumParams(); i < e; ++i) {
        Value slot = LLVM::GEPOp::create(b, loc, ptrType, ptrType, args,
                                         ArrayRef<LLVM::GEPArg>{i});
        descriptors.push_back(LLVM::LoadOp::create(b, loc, ptrType, slot));
      }
      LLVM::CallOp::create(b, loc, wrapper, descriptors);
      LLVM::ReturnOp::create(b, loc, ValueRange());
    }
  }
};

} // namespace
