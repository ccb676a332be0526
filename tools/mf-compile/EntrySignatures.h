//===- EntrySignatures.h - manifest signatures of entry points --*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Computes what the runtime checks on every call: for each public function,
// its arguments (names from the source, element types, static dims) and its
// dynamic dims as symbols. Dims that the ops force to be equal (q's N and
// the bias's N, an elementwise add's operands, a result and the input it is
// reified from) share one symbol, so that a call with disagreeing dims is
// refused by the runtime instead of reading out of bounds.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MFCOMPILE_ENTRYSIGNATURES_H
#define MF_TOOLS_MFCOMPILE_ENTRYSIGNATURES_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace mf {

/// One argument (input or output) of an entry point.
struct ArgSignature {
  std::string name;
  bool isOutput = false;
  std::string dtype;
  /// Static size, or -1 for a dynamic dim.
  std::vector<int64_t> dims;
  /// The symbol of each dynamic dim ("" for static dims).
  std::vector<std::string> symbols;
};

/// One entry point: a public function of the module.
struct EntrySignature {
  std::string name;
  std::vector<ArgSignature> args;
};

/// Computes the signatures of the public functions of `module`, which must
/// be verified evo/tensor IR with calls already inlined. `argNames` maps each
/// function's name to its argument names. Emits an error and fails when an
/// argument is not a ranked tensor of a supported type or when an output dim
/// cannot be related to the inputs.
llvm::FailureOr<std::vector<EntrySignature>> computeEntrySignatures(
    mlir::ModuleOp module,
    const llvm::DenseMap<llvm::StringRef, std::vector<std::string>> &argNames);

} // namespace mf

#endif // MF_TOOLS_MFCOMPILE_ENTRYSIGNATURES_H
