//===- cpu_backend.cc - Running host code from an artifact ----------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Target "cpu": each entry's code lives in an ELF shared object blob. It is
// loaded straight from memory (memfd_create, then dlopen of
// /proc/self/fd/N); where that fails (or the environment variable
// MF_RUNTIME_DISABLE_MEMFD is set), through a temporary file in $TMPDIR or
// /tmp that is unlinked right after dlopen. Entry points have the signature
// `void symbol(void **args)`, args[i] pointing to the MLIR ranked memref
// descriptor of argument i, built here per call on the stack.
//
//===----------------------------------------------------------------------===//

#include "../../backend.h"
#include "../../status.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace mf::rt;

namespace {

/// The CPU calling convention of an entry point.
using EntryFn = void (*)(void **);

static_assert(sizeof(void *) == sizeof(int64_t),
              "memref descriptors assume 64-bit pointers");

/// Serializes dlopen and the file juggling around it.
std::mutex loadMutex;

/// Writes all of `data` to `fd`; returns false and sets errno on failure.
bool writeAll(int fd, const unsigned char *data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0)
      return false;
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

/// A dlopen'ed shared object. dlopen finds already-loaded libraries by
/// name, so the memfd stays open while its library is loaded: its
/// /proc/self/fd/N name is then never reused by another module.
class SharedObject {
public:
  SharedObject() = default;
  SharedObject(const SharedObject &) = delete;
  SharedObject &operator=(const SharedObject &) = delete;
  ~SharedObject() {
    std::lock_guard<std::mutex> lock(loadMutex);
    if (handle)
      ::dlclose(handle);
    if (fd < 0)
      return;
    // A library that cannot be unloaded (e.g. marked NODELETE) keeps its
    // name for good, so it keeps its fd too.
    if (void *still = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD))
      ::dlclose(still);
    else
      ::close(fd);
  }

  /// Loads `size` bytes of ELF from memory; `what` names the blob.
  mf_status_t load(const unsigned char *data, size_t size,
                   const std::string &what) {
    std::lock_guard<std::mutex> lock(loadMutex);
    std::string memfdError = std::getenv("MF_RUNTIME_DISABLE_MEMFD")
                                 ? "memfd disabled by MF_RUNTIME_DISABLE_MEMFD"
                                 : loadFromMemfd(data, size);
    if (handle)
      return nullptr;
    std::string fileError = loadFromTempFile(data, size);
    if (handle)
      return nullptr;
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "cannot load ", what,
                          " as a shared object: ", memfdError,
                          "; via a temporary file: ", fileError);
  }

  /// Returns the address of `symbol`, or nullptr with `error` set.
  void *lookup(const std::string &symbol, std::string &error) const {
    std::lock_guard<std::mutex> lock(loadMutex);
    ::dlerror();
    void *address = ::dlsym(handle, symbol.c_str());
    if (!address) {
      const char *message = ::dlerror();
      error = message ? message : "the symbol's address is NULL";
    }
    return address;
  }

private:
  static std::string dlopenError() {
    const char *message = ::dlerror();
    return message ? message : "unknown dlopen error";
  }

  std::string loadFromMemfd(const unsigned char *data, size_t size) {
    int memfd = ::memfd_create("mf-module", MFD_CLOEXEC);
    if (memfd < 0)
      return std::string("memfd_create failed: ") + std::strerror(errno);
    if (!writeAll(memfd, data, size)) {
      std::string error = std::string("write failed: ") + std::strerror(errno);
      ::close(memfd);
      return error;
    }
    std::string name = "/proc/self/fd/" + std::to_string(memfd);
    handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      std::string error = dlopenError();
      ::close(memfd);
      return error;
    }
    fd = memfd;
    path = std::move(name);
    return "";
  }

  std::string loadFromTempFile(const unsigned char *data, size_t size) {
    const char *dir = std::getenv("TMPDIR");
    std::string path =
        std::string(dir && *dir ? dir : "/tmp") + "/mf-module-XXXXXX";
    std::vector<char> buffer(path.begin(), path.end());
    buffer.push_back('\0');
    int file = ::mkstemp(buffer.data());
    if (file < 0)
      return std::string("mkstemp failed: ") + std::strerror(errno);
    bool written = writeAll(file, data, size);
    std::string error =
        written ? "" : std::string("write failed: ") + std::strerror(errno);
    ::close(file);
    if (written) {
      handle = ::dlopen(buffer.data(), RTLD_NOW | RTLD_LOCAL);
      if (!handle)
        error = dlopenError();
    }
    ::unlink(buffer.data());
    return error;
  }

  void *handle = nullptr;
  /// The memfd and its /proc path, when loaded that way.
  int fd = -1;
  std::string path;
};

/// The loaded host code of one module.
class CpuExecutable final : public Executable {
public:
  mf_status_t invoke(size_t entryIndex, const mf_tensor_t *args,
                     size_t numArgs) const override {
    // Descriptors: {allocated, aligned, offset, sizes[r], strides[r]}.
    constexpr size_t kInlineArgs = 16;
    constexpr size_t kWordsPerArg = 3 + 2 * MF_MAX_RANK;
    int64_t inlineWords[kInlineArgs * kWordsPerArg];
    void *inlinePointers[kInlineArgs];
    std::vector<int64_t> heapWords;
    std::vector<void *> heapPointers;
    int64_t *words = inlineWords;
    void **pointers = inlinePointers;
    if (numArgs > kInlineArgs) {
      heapWords.resize(numArgs * kWordsPerArg);
      heapPointers.resize(numArgs);
      words = heapWords.data();
      pointers = heapPointers.data();
    }
    for (size_t i = 0; i < numArgs; ++i) {
      const mf_tensor_t &tensor = args[i];
      int64_t *descriptor = words + i * kWordsPerArg;
      std::memcpy(&descriptor[0], &tensor.data, sizeof(void *));
      std::memcpy(&descriptor[1], &tensor.data, sizeof(void *));
      descriptor[2] = 0;
      // Unsigned, so the strides of an empty tensor may wrap harmlessly.
      int64_t rank = tensor.rank;
      uint64_t stride = 1;
      for (int64_t d = rank - 1; d >= 0; --d) {
        descriptor[3 + d] = tensor.dims[d];
        descriptor[3 + rank + d] = static_cast<int64_t>(stride);
        stride *= static_cast<uint64_t>(tensor.dims[d]);
      }
      pointers[i] = descriptor;
    }
    entries[entryIndex](pointers);
    return nullptr;
  }

  std::vector<std::unique_ptr<SharedObject>> objects;
  std::vector<EntryFn> entries;
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
    auto executable = std::make_unique<CpuExecutable>();
    std::vector<SharedObject *> byBlob(manifest.blobs.size(), nullptr);
    for (const EntrySpec &entry : manifest.entries) {
      if (entry.hostBlob < 0)
        return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: entry '", entry.name,
                              "' has no host_blob, which target cpu needs");
      const BlobSpec &blob = manifest.blobs[entry.hostBlob];
      if (blob.kind != "elf-shared-object")
        return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: entry '", entry.name,
                              "': host blob '", blob.name, "' has kind '",
                              blob.kind,
                              "' but target cpu needs 'elf-shared-object'");
      SharedObject *&object = byBlob[entry.hostBlob];
      if (!object) {
        executable->objects.push_back(std::make_unique<SharedObject>());
        object = executable->objects.back().get();
        MF_RETURN_IF_ERROR(object->load(data + blob.offset, blob.size,
                                        "blob '" + blob.name + "'"));
      }
      std::string error;
      void *address = object->lookup(entry.symbol, error);
      if (!address)
        return MF_MAKE_STATUS(NOT_FOUND, "entry '", entry.name, "': symbol '",
                              entry.symbol, "' not found in blob '", blob.name,
                              "': ", error);
      executable->entries.push_back(reinterpret_cast<EntryFn>(address));
    }
    out = std::move(executable);
    return nullptr;
  }
};

} // namespace

std::unique_ptr<Backend> mf::rt::createCpuBackend() {
  return std::make_unique<CpuBackend>();
}
