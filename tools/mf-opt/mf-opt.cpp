//===- mf-opt.cpp - MegaFold-MLIR optimizer driver ------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt with the evo dialect and MegaFold's passes and pipelines, so that
// every step of mf-compile can be run, printed and bisected by hand.
//
//===----------------------------------------------------------------------===//

#include "mf/InitAllDialects.h"
#include "mf/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mf::registerAllDialects(registry);
  // gpu-module-to-binary translates device code to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  mf::registerAllPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "MegaFold-MLIR optimizer driver\n", registry));
}
