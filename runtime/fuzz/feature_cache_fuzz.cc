//===- feature_cache_fuzz.cc - libFuzzer target for the cache parser ------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes to parseFromMemory, with and without checksum
// verification, and checks what it accepts: every tensor lies inside the
// input, is aligned to its element size, matches its shape, and the views
// can be read end to end (ASan catches any stray read).
//
//===----------------------------------------------------------------------===//

#include "feature_cache.h"

#include "mf/runtime/artifact.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace mf::rt::cache;

namespace {

void check(bool condition) {
  if (!condition)
    __builtin_trap();
}

void parseAndCheck(const unsigned char *data, size_t size, uint32_t flags) {
  ParsedCache parsed;
  mf_status_t status = parseFromMemory(data, size,
                                       MF_FEATURE_CACHE_ANY_VERSION, flags,
                                       parsed);
  // Building the message must be safe too.
  (void)mf_status_message(status);
  bool ok = status == nullptr;
  mf_status_free(status);
  if (!ok)
    return;
  check(parsed.dataStart >= kLengthPrefixSize && parsed.dataStart <= size);
  check(parsed.version >= 1);
  for (const Tensor &tensor : parsed.tensors) {
    size_t elementSize = mf_cache_dtype_size(tensor.dtype);
    check(elementSize > 0 && tensor.dims.size() <= MF_MAX_RANK);
    check(tensor.begin <= tensor.end &&
          tensor.end <= size - parsed.dataStart);
    check((parsed.dataStart + tensor.begin) % elementSize == 0);
    uint64_t elements = 1;
    for (int64_t dim : tensor.dims)
      elements *= static_cast<uint64_t>(dim);
    check(elements == tensor.numElements &&
          elements * elementSize == tensor.end - tensor.begin);
    // Reads every byte of the view.
    uint64_t hash = mf::artifact::fnv1a64(
        data + parsed.dataStart + tensor.begin, tensor.end - tensor.begin);
    if (!(flags & MF_FEATURE_CACHE_SKIP_CHECKSUMS))
      check(hash == tensor.checksum);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parseAndCheck(data, size, 0);
  parseAndCheck(data, size, MF_FEATURE_CACHE_SKIP_CHECKSUMS);
  return 0;
}
