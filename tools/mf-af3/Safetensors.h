//===- Safetensors.h - A reader of plain safetensors files ------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mf-af3 reads its weights from a plain safetensors file (as written by
// `safetensors.torch.save_file`). The runtime's feature-cache loader
// (feature_cache.h) reads safetensors too, but only mf-cache's flavour: it
// requires a "__metadata__" with a feature-set version and a checksum per
// tensor, and refuses files without them. This reader takes any valid
// safetensors file: it maps it read-only and checks the header (bounds,
// dtypes, shapes against data_offsets) with the runtime's defensive JSON
// parser, never trusting the file.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MF_AF3_SAFETENSORS_H
#define MF_TOOLS_MF_AF3_SAFETENSORS_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mf::af3 {

/// One tensor of a safetensors file: a view into the mapping.
struct SafeTensor {
  /// "F32", "BF16", "F16", ... as written in the file.
  std::string dtype;
  std::vector<int64_t> shape;
  const unsigned char *data = nullptr;
  size_t sizeBytes = 0;
};

class SafetensorsFile {
public:
  SafetensorsFile() = default;
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;
  ~SafetensorsFile();

  /// Maps and parses `path`; on failure returns false with `error` set (the
  /// message names the file and, where it applies, the tensor).
  bool open(const std::string &path, std::string &error);

  const std::string &path() const { return path_; }
  const std::map<std::string, SafeTensor> &tensors() const {
    return tensors_;
  }
  /// The tensor called `name`, or nullptr.
  const SafeTensor *find(const std::string &name) const;

  /// Copies tensor `name` into `out` as f32 (F32, BF16 and F16 are
  /// converted); false with `error` if it is missing, of another dtype or
  /// not of `shape`.
  bool readF32(const std::string &name, const std::vector<int64_t> &shape,
               float *out, std::string &error) const;

private:
  std::string path_;
  void *map_ = nullptr;
  size_t mapSize_ = 0;
  std::map<std::string, SafeTensor> tensors_;
};

} // namespace mf::af3

#endif // MF_TOOLS_MF_AF3_SAFETENSORS_H
