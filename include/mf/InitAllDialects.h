//===- InitAllDialects.h - register every dialect mf tools use --*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_INITALLDIALECTS_H
#define MF_INITALLDIALECTS_H

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"

namespace mf {

/// Registers evo, every upstream dialect and the upstream extensions (the
/// external models that bufferization, tiling and LLVM conversion need), so
/// that upstream pipelines run on IR holding evo ops.
inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mf::evo::EvoDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
}

} // namespace mf

#endif // MF_INITALLDIALECTS_H
