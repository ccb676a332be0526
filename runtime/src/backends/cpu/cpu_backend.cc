//===- cpu_backend.cc - Running host code from an artifact ----------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Target "cpu": each entry's code lives in an ELF shared object blob, loaded
// and called as host_code.h describes. Calls run to completion on the
// caller's thread, so there is no stream. Device memory (mf_device_*) is
// 64-byte aligned host memory.
//
//===----------------------------------------------------------------------===//

#include "../../backend.h"
#include "../../status.h"
#include "../host_code.h"

#include <cstdlib>
#include <cstring>

using namespace mf::rt;

namespace {

/// The alignment of mf_device_alloc blocks (a cache line, as compiled code's
/// own allocations).
constexpr size_t kAllocAlignment = 64;

/// The loaded host code of one module.
class CpuExecutable final : public Executable {
public:
  explicit CpuExecutable(const Manifest &manifest) : manifest(manifest) {}

  mf_status_t invoke(size_t entryIndex, const mf_tensor_t *args,
                     size_t numArgs, void *stream,
                     bool wait) const override {
    (void)wait; // Always synchronous.
    if (stream)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "entry '",
                            manifest.entries[entryIndex].name,
                            "': a cpu module runs synchronously and takes no "
                            "stream, but stream is ",
                            stream);
    MemRefArgs descriptors(args, numArgs);
    code.entries[entryIndex](descriptors.get());
    return nullptr;
  }

  const Manifest &manifest;
  HostCode code;
};

/// Target "cpu".
class CpuBackend final : public Backend {
public:
  const char *target() const override { return "cpu"; }
  mf_device_kind_t deviceKind() const override { return MF_DEVICE_CPU; }

  mf_status_t load(const Manifest &manifest, const unsigned char *data,
                   size_t size,
                   std::unique_ptr<Executable> &out) const override {
    (void)size; // Blob bounds were checked by parseArtifact.
    auto executable = std::make_unique<CpuExecutable>(manifest);
    MF_RETURN_IF_ERROR(executable->code.load(manifest, data, target()));
    out = std::move(executable);
    return nullptr;
  }

  mf_status_t allocate(size_t size, void **out) const override {
    void *ptr = nullptr;
    if (posix_memalign(&ptr, kAllocAlignment, size) != 0)
      return MF_MAKE_STATUS(RESOURCE_EXHAUSTED, "cannot allocate ", size,
                            " bytes of host memory");
    *out = ptr;
    return nullptr;
  }

  mf_status_t deallocate(void *ptr) const override {
    std::free(ptr);
    return nullptr;
  }

  mf_status_t copy(void *dst, const void *src, size_t size,
                   mf_copy_kind_t kind) const override {
    (void)kind; // Host and device are the same memory.
    std::memmove(dst, src, size);
    return nullptr;
  }

  mf_status_t synchronize() const override { return nullptr; }
};

} // namespace

std::unique_ptr<Backend> mf::rt::createCpuBackend() {
  return std::make_unique<CpuBackend>();
}
