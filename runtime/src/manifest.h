//===- manifest.h - Parsed and validated artifact manifest ------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_MANIFEST_H
#define MF_RUNTIME_SRC_MANIFEST_H

#include "mf/runtime/api.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mf::rt {

/// One argument of an entry point.
struct ArgSpec {
  std::string name;
  bool isOutput = false;
  mf_dtype_t dtype = MF_DTYPE_INVALID;
  /// Static sizes, -1 for dynamic dims.
  std::vector<int64_t> dims;
  /// Symbol of each dim ("" for static dims).
  std::vector<std::string> symbols;
  /// Index into EntrySpec::symbolNames of each dim (-1 for static dims).
  std::vector<int> symbolIds;
};

/// One entry point.
struct EntrySpec {
  std::string name;
  std::string symbol;
  /// Index into Manifest::blobs of the host code, or -1 if none was named.
  int hostBlob = -1;
  std::vector<ArgSpec> args;
  size_t numInputs = 0;
  /// The distinct dim symbols of the entry, in order of first occurrence.
  std::vector<std::string> symbolNames;
};

/// One embedded blob; offsets are from the start of the file and checked.
struct BlobSpec {
  std::string name;
  std::string kind;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

/// A validated manifest.
struct Manifest {
  std::string target;
  std::string chip;
  std::string producer;
  std::vector<BlobSpec> blobs;
  std::vector<EntrySpec> entries;
};

/// Checks the header, manifest and blobs of the `size` bytes at `data` and
/// parses the manifest into `out`. Does not look at the target.
mf_status_t parseArtifact(const unsigned char *data, size_t size,
                          Manifest &out);

/// Maps a manifest dtype spelling to mf_dtype_t (MF_DTYPE_INVALID if unknown).
mf_dtype_t parseDType(const std::string &name);

} // namespace mf::rt

#endif // MF_RUNTIME_SRC_MANIFEST_H
