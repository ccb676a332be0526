//===- EvoDialect.cpp - the evo dialect -----------------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mf/Dialect/Evo/IR/EvoOps.h"

#include "mlir/Transforms/InliningUtils.h"

using namespace mlir;
using namespace mf::evo;

#include "mf/Dialect/Evo/IR/EvoOpsDialect.cpp.inc"

namespace {
/// Every evo op is pure and region-free, so calls into functions that hold
/// them may be inlined (a Pairformer block calls its attention helpers).
struct EvoInlinerInterface : DialectInlinerInterface {
  using DialectInlinerInterface::DialectInlinerInterface;
  bool isLegalToInline(Operation *, Region *, bool, IRMapping &) const final {
    return true;
  }
};
} // namespace

void EvoDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "mf/Dialect/Evo/IR/EvoOps.cpp.inc"
      >();
  addInterfaces<EvoInlinerInterface>();
}
