//===- feature_cache.h - Parsing feature-cache files ------------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The in-memory parser and verifier behind mf_feature_cache_open (the format
// is described in mf/runtime/feature_cache.h), shared with the writer's
// constants and fuzzed directly by fuzz/feature_cache_fuzz.cc.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_FEATURE_CACHE_H
#define MF_RUNTIME_SRC_FEATURE_CACHE_H

#include "mf/runtime/feature_cache.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::rt::cache {

/// Size of the little-endian header-length prefix.
inline constexpr uint64_t kLengthPrefixSize = 8;
/// Largest header length accepted (the limit safetensors applies).
inline constexpr uint64_t kMaxHeaderSize = 100000000;
/// Deepest JSON nesting the schema needs (root, tensor, shape).
inline constexpr int kMaxHeaderDepth = 3;
/// Most JSON values (scalars, arrays, objects) a header may hold.
inline constexpr uint64_t kMaxHeaderValues = 1u << 18;
/// The writer's alignment of the data region and of every tensor.
inline constexpr uint64_t kAlignment = 64;
/// The key of the metadata object.
inline constexpr std::string_view kMetadataKey = "__metadata__";
/// Metadata key of the feature-set version.
inline constexpr std::string_view kVersionKey = "mf_feature_set_version";
/// Metadata key of the input hashes.
inline constexpr std::string_view kInputHashesKey = "mf_input_hashes";
/// Prefix of the metadata keys holding tensor checksums.
inline constexpr std::string_view kChecksumPrefix = "mf_checksum.";
/// Prefix of the names of padding entries.
inline constexpr std::string_view kPadPrefix = "__mf_pad.";

/// Maps "F32" ... to a dtype (MF_CACHE_DTYPE_INVALID if unknown).
mf_cache_dtype_t parseDType(std::string_view name);

/// Parses a feature-set version: decimal, 1 to UINT32_MAX, no sign and no
/// leading zeros.
bool parseVersion(std::string_view text, uint32_t &out);

/// True if `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool isValidUtf8(std::string_view text);

/// One verified tensor; offsets are from the start of the data region.
struct Tensor {
  std::string name;
  mf_cache_dtype_t dtype = MF_CACHE_DTYPE_INVALID;
  std::vector<int64_t> dims;
  uint64_t numElements = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t checksum = 0;
};

/// A verified file: its tensors (padding excluded) and metadata, both sorted
/// by name.
struct ParsedCache {
  /// File offset of the data region (8 + header length).
  uint64_t dataStart = 0;
  uint32_t version = 0;
  std::vector<Tensor> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;
};

/// Verifies the `size` bytes at `data` as a feature-cache file (everything
/// listed in mf/runtime/feature_cache.h) and describes it in `out`. Never
/// crashes, whatever the bytes; messages do not name a file (the caller
/// prefixes it). `flags` are mf_feature_cache_flags_t bits.
mf_status_t parseFromMemory(const unsigned char *data, size_t size,
                            uint32_t expectedVersion, uint32_t flags,
                            ParsedCache &out);

} // namespace mf::rt::cache

#endif // MF_RUNTIME_SRC_FEATURE_CACHE_H
