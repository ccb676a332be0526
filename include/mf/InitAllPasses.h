//===- InitAllPasses.h - register every pass mf tools use -------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_INITALLPASSES_H
#define MF_INITALLPASSES_H

#include "mf/Conversion/Passes.h"
#include "mf/Transforms/Passes.h"
#include "mlir/InitAllPasses.h"

namespace mf {

/// Registers the upstream passes and pipelines and ours.
inline void registerAllPasses() {
  mlir::registerAllPasses();
  mf::registerMFTransformsPasses();
  mf::registerMFConversionPasses();
  mf::registerPipelines();
}

} // namespace mf

#endif // MF_INITALLPASSES_H
