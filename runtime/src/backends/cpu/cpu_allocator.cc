//===- cpu_allocator.cc - the heap of compiled CPU code --------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Compiled CPU code allocates its temporaries through
// _mlir_memref_to_llvm_alloc / _aligned_alloc / _free (mf-compile lowers
// memref.alloc with use-generic-functions), resolved here when the runtime
// loads an artifact. Large blocks are kept after free and handed out again
// for the same size: a model called over and over with the same shapes then
// stops paying page faults for its big intermediates on every call.
//
// Every block carries a 64-byte header with its size, so free needs no
// lookup and small blocks never take the lock.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/api.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>

namespace {

/// Blocks below this size go straight to malloc/free.
constexpr uint64_t kCacheMinBytes = uint64_t(1) << 20;
/// At most this many idle bytes are kept.
constexpr uint64_t kCacheMaxIdleBytes = uint64_t(1) << 31;
/// Header in front of every block; also the alignment blocks get.
constexpr uint64_t kHeaderBytes = 64;

/// Idle large blocks by exact size.
struct BlockCache {
  std::mutex mutex;
  std::multimap<uint64_t, void *> idle;
  uint64_t idleBytes = 0;
};

/// Never destroyed: compiled code may free during static destruction.
BlockCache &blockCache() {
  static BlockCache *cache = new BlockCache;
  return *cache;
}

void *allocateBlock(uint64_t size) {
  if (size >= kCacheMinBytes) {
    BlockCache &cache = blockCache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.idle.find(size);
    if (it != cache.idle.end()) {
      void *base = it->second;
      cache.idle.erase(it);
      cache.idleBytes -= size;
      return static_cast<char *>(base) + kHeaderBytes;
    }
  }
  void *base = nullptr;
  if (posix_memalign(&base, kHeaderBytes, size + kHeaderBytes) != 0)
    return nullptr;
  *static_cast<uint64_t *>(base) = size;
  return static_cast<char *>(base) + kHeaderBytes;
}

void freeBlock(void *ptr) {
  if (!ptr)
    return;
  void *base = static_cast<char *>(ptr) - kHeaderBytes;
  uint64_t size = *static_cast<uint64_t *>(base);
  if (size >= kCacheMinBytes) {
    BlockCache &cache = blockCache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (cache.idleBytes + size <= kCacheMaxIdleBytes) {
      cache.idle.emplace(size, base);
      cache.idleBytes += size;
      return;
    }
  }
  std::free(base);
}

} // namespace

extern "C" {

/// memref.alloc of compiled code.
MF_API_EXPORT void *_mlir_memref_to_llvm_alloc(uint64_t size) {
  return allocateBlock(size);
}

/// memref.alloc with an alignment of at most 64 (the header's); larger
/// alignments are not produced by mf-compile.
MF_API_EXPORT void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment,
                                                       uint64_t size) {
  if (alignment > kHeaderBytes)
    return nullptr;
  return allocateBlock(size);
}

/// memref.dealloc of compiled code.
MF_API_EXPORT void _mlir_memref_to_llvm_free(void *ptr) { freeBlock(ptr); }

} // extern "C"
