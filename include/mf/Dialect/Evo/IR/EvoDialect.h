//===- EvoDialect.h - the evo dialect ---------------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_DIALECT_EVO_IR_EVODIALECT_H
#define MF_DIALECT_EVO_IR_EVODIALECT_H

#include "mlir/IR/Dialect.h"

#include "mf/Dialect/Evo/IR/EvoOpsDialect.h.inc"

#endif // MF_DIALECT_EVO_IR_EVODIALECT_H
