//===- feature_cache.cc - The feature-cache C API -------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Maps a cache file read-only, verifies it with parseFromMemory and hands out
// views into the mapping.
//
//===----------------------------------------------------------------------===//

#include "feature_cache.h"

#include "status.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mf::rt;
using namespace mf::rt::cache;

/// An open cache: the mapping (or borrowed memory) and what parsing found.
struct mf_feature_cache_s {
  std::atomic<int> refs{1};
  std::string path;
  /// The mapping, or nullptr for borrowed memory (and for an empty mapping).
  void *mapping = nullptr;
  size_t mappingSize = 0;
  const unsigned char *data = nullptr;
  ParsedCache parsed;

  ~mf_feature_cache_s() {
    if (mapping)
      munmap(mapping, mappingSize);
  }
};

namespace {

/// Fills `view` from tensor `tensor` of `cache`.
void fillView(const mf_feature_cache_s &cache, const Tensor &tensor,
              mf_cache_tensor_t &view) {
  view = mf_cache_tensor_t{};
  view.name = tensor.name.c_str();
  view.data = cache.data + cache.parsed.dataStart + tensor.begin;
  view.dtype = tensor.dtype;
  view.rank = static_cast<int32_t>(tensor.dims.size());
  std::copy(tensor.dims.begin(), tensor.dims.end(), view.dims);
  view.num_elements = tensor.numElements;
  view.size_bytes = tensor.end - tensor.begin;
}

/// Returns "feature cache 'path': " (or without the path for memory).
std::string prefix(const std::string &path) {
  return path.empty() ? "feature cache: " : "feature cache '" + path + "': ";
}

/// Parses `cache->data` and hands `cache` out on success.
mf_status_t finishOpen(std::unique_ptr<mf_feature_cache_s> cache, size_t size,
                       uint32_t expectedVersion, uint32_t flags,
                       mf_feature_cache_t **out_cache) {
  MF_RETURN_IF_ERROR(annotateStatus(
      parseFromMemory(cache->data, size, expectedVersion, flags,
                      cache->parsed),
      prefix(cache->path)));
  *out_cache = cache.release();
  return nullptr;
}

} // namespace

extern "C" {

mf_status_t mf_feature_cache_open(const char *path, uint32_t expected_version,
                                  mf_feature_cache_t **out_cache) {
  return mf_feature_cache_open_with_flags(path, expected_version, 0,
                                          out_cache);
}

mf_status_t mf_feature_cache_open_with_flags(const char *path,
                                             uint32_t expected_version,
                                             uint32_t flags,
                                             mf_feature_cache_t **out_cache) {
  MF_API_BEGIN
  if (!path)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache path is NULL");
  if (!out_cache)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_cache is NULL");
  auto cache = std::make_unique<mf_feature_cache_s>();
  cache->path = path;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    return makeStatus(error == ENOENT   ? MF_STATUS_NOT_FOUND
                      : error == EACCES ? MF_STATUS_PERMISSION_DENIED
                                        : MF_STATUS_INVALID_ARGUMENT,
                      __FILE__, __LINE__,
                      concat(prefix(path), "cannot open: ",
                             std::strerror(error)));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    return MF_MAKE_STATUS(INVALID_ARGUMENT, prefix(path),
                          "cannot stat: ", std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return MF_MAKE_STATUS(INVALID_ARGUMENT, prefix(path),
                          "not a regular file");
  }
  if (static_cast<uint64_t>(info.st_size) > SIZE_MAX) {
    ::close(fd);
    return MF_MAKE_STATUS(RESOURCE_EXHAUSTED, prefix(path), "the file (",
                          info.st_size, " bytes) does not fit in memory");
  }
  auto size = static_cast<size_t>(info.st_size);
  if (size > 0) {
    void *mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int error = errno;
    ::close(fd);
    if (mapping == MAP_FAILED)
      return makeStatus(error == ENOMEM ? MF_STATUS_RESOURCE_EXHAUSTED
                                        : MF_STATUS_INVALID_ARGUMENT,
                        __FILE__, __LINE__,
                        concat(prefix(path), "cannot map ", size,
                               " bytes: ", std::strerror(error)));
    cache->mapping = mapping;
    cache->mappingSize = size;
    cache->data = static_cast<const unsigned char *>(mapping);
  } else {
    ::close(fd);
  }
  return finishOpen(std::move(cache), size, expected_version, flags,
                    out_cache);
  MF_API_END
}

mf_status_t mf_feature_cache_open_memory(const void *data, size_t size,
                                         uint32_t expected_version,
                                         uint32_t flags,
                                         mf_feature_cache_t **out_cache) {
  MF_API_BEGIN
  if (!out_cache)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_cache is NULL");
  auto cache = std::make_unique<mf_feature_cache_s>();
  cache->data = static_cast<const unsigned char *>(data);
  return finishOpen(std::move(cache), size, expected_version, flags,
                    out_cache);
  MF_API_END
}

void mf_feature_cache_retain(mf_feature_cache_t *cache) {
  if (cache)
    cache->refs.fetch_add(1, std::memory_order_relaxed);
}

void mf_feature_cache_release(mf_feature_cache_t *cache) {
  if (cache && cache->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete cache;
}

const char *mf_feature_cache_path(const mf_feature_cache_t *cache) {
  return cache ? cache->path.c_str() : "";
}

uint32_t mf_feature_cache_version(const mf_feature_cache_t *cache) {
  return cache ? cache->parsed.version : 0;
}

size_t mf_feature_cache_tensor_count(const mf_feature_cache_t *cache) {
  return cache ? cache->parsed.tensors.size() : 0;
}

const char *mf_feature_cache_tensor_name(const mf_feature_cache_t *cache,
                                         size_t index) {
  if (!cache || index >= cache->parsed.tensors.size())
    return nullptr;
  return cache->parsed.tensors[index].name.c_str();
}

mf_status_t mf_feature_cache_tensor_at(const mf_feature_cache_t *cache,
                                       size_t index,
                                       mf_cache_tensor_t *out_view) {
  MF_API_BEGIN
  if (!cache)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache is NULL");
  if (!out_view)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_view is NULL");
  if (index >= cache->parsed.tensors.size())
    return MF_MAKE_STATUS(OUT_OF_RANGE, prefix(cache->path), "tensor index ",
                          index, " is past the ",
                          cache->parsed.tensors.size(), " tensors");
  fillView(*cache, cache->parsed.tensors[index], *out_view);
  return nullptr;
  MF_API_END
}

mf_status_t mf_feature_cache_find(const mf_feature_cache_t *cache,
                                  const char *name,
                                  mf_cache_tensor_t *out_view) {
  MF_API_BEGIN
  if (!cache)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache is NULL");
  if (!name)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "tensor name is NULL");
  if (!out_view)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_view is NULL");
  const auto &tensors = cache->parsed.tensors;
  std::string_view key(name);
  auto it = std::lower_bound(
      tensors.begin(), tensors.end(), key,
      [](const Tensor &tensor, std::string_view k) { return tensor.name < k; });
  if (it == tensors.end() || it->name != key)
    return MF_MAKE_STATUS(NOT_FOUND, prefix(cache->path), "no tensor named '",
                          name, "' (the file holds ", tensors.size(),
                          " tensors)");
  fillView(*cache, *it, *out_view);
  return nullptr;
  MF_API_END
}

const char *mf_feature_cache_metadata(const mf_feature_cache_t *cache,
                                      const char *key) {
  if (!cache || !key)
    return nullptr;
  const auto &metadata = cache->parsed.metadata;
  std::string_view k(key);
  auto it = std::lower_bound(
      metadata.begin(), metadata.end(), k,
      [](const auto &entry, std::string_view v) { return entry.first < v; });
  return it != metadata.end() && it->first == k ? it->second.c_str() : nullptr;
}

size_t mf_feature_cache_metadata_count(const mf_feature_cache_t *cache) {
  return cache ? cache->parsed.metadata.size() : 0;
}

const char *mf_feature_cache_metadata_key(const mf_feature_cache_t *cache,
                                          size_t index) {
  if (!cache || index >= cache->parsed.metadata.size())
    return nullptr;
  return cache->parsed.metadata[index].first.c_str();
}

} // extern "C"
