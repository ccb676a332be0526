//===- feature_cache.hpp - C++ reader and writer of feature caches -*- C++ -*-//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// A reference-counted handle over the C loader in feature_cache.h, and the
// writer (implemented in the runtime library). The format is described at the
// top of feature_cache.h. Nothing here throws but std::bad_alloc from the
// writer's containers.
//
//   mf::cache::Writer writer;
//   writer.setFeatureSetVersion(1);
//   writer.setInputHashes({{"1abc.json", hash}});
//   writer.add("aatype", MF_CACHE_DTYPE_I32, {n}, aatype.data(), n * 4);
//   mf::runtime::Status status = writer.write("1abc.mfc");
//
//   auto cache = mf::cache::FeatureCache::open("1abc.mfc", 1);
//   if (!cache.ok()) { puts(cache.status().message()); return; }
//   auto aatype = cache->find("aatype");   // Result<mf_cache_tensor_t>
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_FEATURE_CACHE_HPP
#define MF_RUNTIME_FEATURE_CACHE_HPP

#include "mf/runtime/feature_cache.h"
#include "mf/runtime/runtime.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mf::cache {

using mf::runtime::Result;
using mf::runtime::Status;

/// An open, verified cache file (reference-counted handle; copying retains).
class FeatureCache {
public:
  /// Takes ownership of one reference to `cache`.
  explicit FeatureCache(mf_feature_cache_t *cache) : cache_(cache) {}
  FeatureCache(const FeatureCache &other) : cache_(other.cache_) {
    mf_feature_cache_retain(cache_);
  }
  FeatureCache(FeatureCache &&other) noexcept
      : cache_(std::exchange(other.cache_, nullptr)) {}
  FeatureCache &operator=(FeatureCache other) {
    std::swap(cache_, other.cache_);
    return *this;
  }
  ~FeatureCache() { mf_feature_cache_release(cache_); }

  /// Maps and verifies the file at `path`; `flags` are
  /// mf_feature_cache_flags_t bits (0 verifies everything).
  static Result<FeatureCache> open(const std::string &path,
                                   uint32_t expectedVersion,
                                   uint32_t flags = 0) {
    mf_feature_cache_t *cache = nullptr;
    if (mf_status_t status = mf_feature_cache_open_with_flags(
            path.c_str(), expectedVersion, flags, &cache))
      return Status(status);
    return FeatureCache(cache);
  }

  /// Verifies `size` bytes at `data`, which must outlive the cache.
  static Result<FeatureCache> openMemory(const void *data, size_t size,
                                         uint32_t expectedVersion,
                                         uint32_t flags = 0) {
    mf_feature_cache_t *cache = nullptr;
    if (mf_status_t status = mf_feature_cache_open_memory(
            data, size, expectedVersion, flags, &cache))
      return Status(status);
    return FeatureCache(cache);
  }

  mf_feature_cache_t *get() const { return cache_; }
  const char *path() const { return mf_feature_cache_path(cache_); }
  uint32_t version() const { return mf_feature_cache_version(cache_); }
  size_t tensorCount() const { return mf_feature_cache_tensor_count(cache_); }
  /// Tensor names are sorted; NULL past the count.
  const char *tensorName(size_t index) const {
    return mf_feature_cache_tensor_name(cache_, index);
  }

  /// A view of tensor `index`; valid while any handle to the cache lives.
  Result<mf_cache_tensor_t> tensor(size_t index) const {
    mf_cache_tensor_t view;
    if (mf_status_t status = mf_feature_cache_tensor_at(cache_, index, &view))
      return Status(status);
    return view;
  }

  /// A view of the tensor called `name` (NOT_FOUND if none).
  Result<mf_cache_tensor_t> find(const std::string &name) const {
    mf_cache_tensor_t view;
    if (mf_status_t status =
            mf_feature_cache_find(cache_, name.c_str(), &view))
      return Status(status);
    return view;
  }

  /// The "__metadata__" value of `key`, or NULL.
  const char *metadata(const std::string &key) const {
    return mf_feature_cache_metadata(cache_, key.c_str());
  }

private:
  mf_feature_cache_t *cache_;
};

/// Wraps a view as an input tensor for mf_function_invoke (CPU memory). The
/// data is read-only: pass it only as an input. U8 views get
/// MF_DTYPE_INVALID, which invoke refuses.
inline mf_tensor_t toTensor(const mf_cache_tensor_t &view) {
  mf_tensor_t tensor = {};
  tensor.data = const_cast<void *>(view.data);
  tensor.dtype = mf_cache_dtype_to_dtype(view.dtype);
  tensor.rank = view.rank;
  for (int32_t i = 0; i < view.rank && i < MF_MAX_RANK; ++i)
    tensor.dims[i] = view.dims[i];
  tensor.device = MF_DEVICE_CPU;
  return tensor;
}

/// Builds a cache file. Tensors are copied on add; the output depends only
/// on the tensors and metadata, not on the order they were added in.
class MF_API_EXPORT Writer {
public:
  /// Adds a tensor of `shape` whose dense row-major bytes are the `size`
  /// bytes at `data` (size must be product(shape) * element size). Names must
  /// be non-empty UTF-8 without NUL, unique, and not start with "__".
  Status add(const std::string &name, mf_cache_dtype_t dtype,
             const std::vector<int64_t> &shape, const void *data,
             size_t size);

  /// Adds a tensor holding `values` (dense row-major).
  template <typename T>
  Status add(const std::string &name, mf_cache_dtype_t dtype,
             const std::vector<int64_t> &shape, const std::vector<T> &values) {
    return add(name, dtype, shape, values.data(), values.size() * sizeof(T));
  }

  /// Sets a "__metadata__" entry (UTF-8 without NUL). Keys starting with
  /// "mf_checksum." are reserved: the writer computes checksums.
  Status setMetadata(const std::string &key, const std::string &value);

  /// Sets "mf_feature_set_version" (>= 1); required before serializing.
  Status setFeatureSetVersion(uint32_t version);

  /// Sets "mf_input_hashes" to the JSON object {name: "0x<16 hex>"} of
  /// `hashes` (FNV-1a 64 of each input file), as a string.
  Status setInputHashes(const std::map<std::string, uint64_t> &hashes);

  /// Returns the bytes of the file. FAILED_PRECONDITION without a version.
  Status serialize(std::string &out) const;

  /// Writes the file to `path`, through a temporary file in the same
  /// directory renamed over `path` (so readers never see a partial file).
  Status write(const std::string &path) const;

private:
  struct Entry {
    mf_cache_dtype_t dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

} // namespace mf::cache

#endif // MF_RUNTIME_FEATURE_CACHE_HPP
