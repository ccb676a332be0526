//===- Passes.h - evo-level transform passes --------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TRANSFORMS_PASSES_H
#define MF_TRANSFORMS_PASSES_H

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mf {

#define GEN_PASS_DECL
#include "mf/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mf/Transforms/Passes.h.inc"

} // namespace mf

#endif // MF_TRANSFORMS_PASSES_H
