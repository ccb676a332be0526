//===- host_code.cc - Loading and calling host code of artifacts ----------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "host_code.h"

#include "../status.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>

using namespace mf::rt;

static_assert(sizeof(void *) == sizeof(int64_t),
              "memref descriptors assume 64-bit pointers");

namespace {

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

std::string dlopenError() {
  const char *message = ::dlerror();
  return message ? message : "unknown dlopen error";
}

/// Moves this library into the global symbol scope, once. Host code is
/// opened RTLD_LOCAL and resolves its undefined symbols from the global
/// scope only; a runtime opened RTLD_LOCAL would not be found there. If this
/// fails, dlopen of the host code reports the missing symbols.
void promoteRuntimeToGlobalScope() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (!::dladdr(reinterpret_cast<void *>(&promoteRuntimeToGlobalScope),
                  &info) ||
        !info.dli_fname)
      return;
    if (void *self =
            ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL))
      ::dlclose(self); // The promotion outlives this extra reference.
  });
}

} // namespace

//===----------------------------------------------------------------------===//
// SharedObject
//===----------------------------------------------------------------------===//

// dlopen finds already-loaded libraries by name, so the memfd stays open
// while its library is loaded: its /proc/self/fd/N name is then never reused
// by another module.
SharedObject::~SharedObject() {
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

mf_status_t SharedObject::load(const unsigned char *data, size_t size,
                               const std::string &what) {
  promoteRuntimeToGlobalScope();
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

void *SharedObject::lookup(const std::string &symbol,
                           std::string &error) const {
  std::lock_guard<std::mutex> lock(loadMutex);
  ::dlerror();
  void *address = ::dlsym(handle, symbol.c_str());
  if (!address) {
    const char *message = ::dlerror();
    error = message ? message : "the symbol's address is NULL";
  }
  return address;
}

std::string SharedObject::loadFromMemfd(const unsigned char *data,
                                        size_t size) {
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

std::string SharedObject::loadFromTempFile(const unsigned char *data,
                                           size_t size) {
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

//===----------------------------------------------------------------------===//
// HostCode
//===----------------------------------------------------------------------===//

mf_status_t
HostCode::load(const Manifest &manifest, const unsigned char *data,
               const char *target,
               const std::function<mf_status_t(const BlobSpec &)> &afterLoad) {
  // Blob bounds were checked by parseArtifact.
  std::vector<SharedObject *> byBlob(manifest.blobs.size(), nullptr);
  for (const EntrySpec &entry : manifest.entries) {
    if (entry.hostBlob < 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: entry '", entry.name,
                            "' has no host_blob, which target ", target,
                            " needs");
    const BlobSpec &blob = manifest.blobs[entry.hostBlob];
    if (blob.kind != "elf-shared-object")
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: entry '", entry.name,
                            "': host blob '", blob.name, "' has kind '",
                            blob.kind, "' but target ", target,
                            " needs 'elf-shared-object'");
    SharedObject *&object = byBlob[entry.hostBlob];
    if (!object) {
      objects.push_back(std::make_unique<SharedObject>());
      object = objects.back().get();
      MF_RETURN_IF_ERROR(object->load(data + blob.offset, blob.size,
                                      "blob '" + blob.name + "'"));
      if (afterLoad)
        MF_RETURN_IF_ERROR(afterLoad(blob));
    }
    std::string error;
    void *address = object->lookup(entry.symbol, error);
    if (!address)
      return MF_MAKE_STATUS(NOT_FOUND, "entry '", entry.name, "': symbol '",
                            entry.symbol, "' not found in blob '", blob.name,
                            "': ", error);
    entries.push_back(reinterpret_cast<EntryFn>(address));
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// MemRefArgs
//===----------------------------------------------------------------------===//

MemRefArgs::MemRefArgs(const mf_tensor_t *args, size_t numArgs) {
  int64_t *words = inlineWords;
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
}
