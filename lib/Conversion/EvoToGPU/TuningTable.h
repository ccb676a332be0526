//===- TuningTable.h - Tile sizes per chip and shape ------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The compiler reads kernel tile sizes from a JSON table (TuningTable.json
// is built in; `convert-evo-to-gpu{tuning-table=path}` reads another).
//
//===----------------------------------------------------------------------===//

#ifndef MF_LIB_CONVERSION_EVOTOGPU_TUNINGTABLE_H
#define MF_LIB_CONVERSION_EVOTOGPU_TUNINGTABLE_H

#include "Kernels.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace mf::gpu_kernels {

class TuningTable {
public:
  /// Parses `text`; `source` names it in errors.
  static llvm::Expected<TuningTable> parse(llvm::StringRef text,
                                           llvm::StringRef source);
  /// The built-in table.
  static llvm::Expected<TuningTable> builtin();
  /// Reads the table at `path`.
  static llvm::Expected<TuningTable> load(llvm::StringRef path);

  std::optional<AttentionTiles> attention(llvm::StringRef chip,
                                          int64_t headDim) const;
  std::optional<GemmTiles> layerNormLinear(llvm::StringRef chip,
                                           int64_t outChannels) const;
  std::optional<GemmTiles> transition(llvm::StringRef chip) const;

private:
  struct Entry {
    std::string kernel, chip;
    std::optional<int64_t> headDim, maxOut;
    int64_t blockQ = 0, blockK = 0, sGroup = 0, blockM = 0, blockN = 0;
  };
  const Entry *find(llvm::StringRef kernel, llvm::StringRef chip,
                    std::optional<int64_t> headDim,
                    std::optional<int64_t> outChannels) const;
  std::vector<Entry> entries;
};

} // namespace mf::gpu_kernels

#endif // MF_LIB_CONVERSION_EVOTOGPU_TUNINGTABLE_H
