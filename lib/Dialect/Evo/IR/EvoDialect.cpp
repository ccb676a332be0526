//===- EvoDialect.cpp - the evo dialect -----------------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mf/Dialect/Evo/IR/EvoOps.h"

using namespace mlir;
using namespace mf::evo;

#include "mf/Dialect/Evo/IR/EvoOpsDialect.cpp.inc"

void EvoDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "mf/Dialect/Evo/IR/EvoOps.cpp.inc"
      >();
}
