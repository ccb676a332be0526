//===- EvoOps.h - evo dialect ops -------------------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_DIALECT_EVO_IR_EVOOPS_H
#define MF_DIALECT_EVO_IR_EVOOPS_H

#include "mf/Dialect/Evo/IR/EvoDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "mf/Dialect/Evo/IR/EvoOps.h.inc"

#endif // MF_DIALECT_EVO_IR_EVOOPS_H
