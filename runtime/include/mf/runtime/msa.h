//===- msa.h - Reading multiple sequence alignments -------------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Readers of a3m and Stockholm MSAs into the form the features are built from
// (AlphaFold3 / OpenFold conventions): every row has the query's match
// columns only, uppercase residues and '-' gaps, and a deletion matrix that
// counts, per row and column, the residues the row has inserted (relative to
// the query) immediately before that column.
//
//   mf::msa::Msa msa;
//   mf::runtime::Status status = mf::msa::readMsaFile("hits.a3m", msa);
//   if (!status.ok()) { puts(status.message()); return; }
//
// Errors are statuses (INVALID_ARGUMENT for malformed input, naming the source
// and the line of the input at fault); nothing throws but std::bad_alloc,
// which also becomes a status.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_MSA_H
#define MF_RUNTIME_MSA_H

#include "mf/runtime/runtime.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf::msa {

using Status = mf::runtime::Status;

struct Msa {
  /// Aligned rows, the query first: only the query's match columns, uppercase
  /// residues and '-' gaps, all of the query's length.
  std::vector<std::string> sequences;
  /// Per row, per column: the number of residues inserted (a3m lowercase,
  /// Stockholm residues in the query's gap columns) just before that column.
  /// Insertions after the last column are dropped.
  std::vector<std::vector<int32_t>> deletions;
  /// Per row: the a3m header without '>', or the Stockholm sequence name.
  std::vector<std::string> descriptions;

  size_t numRows() const { return sequences.size(); }
  size_t numColumns() const {
    return sequences.empty() ? 0 : sequences.front().size();
  }
};

/// Parses a3m text. `sourceName` names the input in error messages. Lowercase
/// letters are insertions (counted into the next column's deletion), '.' is
/// ignored; uppercase letters and '-' are match columns. Lines beginning
/// with '#' before the first header are skipped. On error `out` is cleared.
MF_API_EXPORT Status parseA3m(std::string_view text,
                              std::string_view sourceName, Msa &out);

/// Parses Stockholm text ("# STOCKHOLM 1.0" first, "//" last; '#' lines are
/// skipped; "name sequence" lines may come in blocks). The first sequence is
/// the query; its gap columns ('-' or '.') are dropped from every row, and
/// another row's residues there count as deletions before the next kept
/// column. On error `out` is cleared.
MF_API_EXPORT Status parseStockholm(std::string_view text,
                                    std::string_view sourceName, Msa &out);

/// Reads a file by its extension: ".a3m" or ".sto".
MF_API_EXPORT Status readMsaFile(const std::string &path, Msa &out);

} // namespace mf::msa

#endif // MF_RUNTIME_MSA_H
