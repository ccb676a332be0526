//===- Passes.h - evo conversion passes -------------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_CONVERSION_PASSES_H
#define MF_CONVERSION_PASSES_H

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mf {

#define GEN_PASS_DECL
#include "mf/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mf/Conversion/Passes.h.inc"

} // namespace mf

#endif // MF_CONVERSION_PASSES_H
