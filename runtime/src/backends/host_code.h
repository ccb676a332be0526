//===- host_code.h - Loading and calling host code of artifacts -*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// What the CPU and GPU backends share: every target's entry points live in
// ELF shared objects of host code, called with `void symbol(void **args)`,
// args[i] pointing to the MLIR ranked memref descriptor of argument i (on a
// GPU target the data pointers are device pointers).
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKENDS_HOST_CODE_H
#define MF_RUNTIME_SRC_BACKENDS_HOST_CODE_H

#include "../manifest.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mf::rt {

/// The calling convention of an entry point.
using EntryFn = void (*)(void **);

/// A dlopen'ed shared object, loaded from memory (memfd_create, then dlopen
/// of /proc/self/fd/N) or, where that fails or MF_RUNTIME_DISABLE_MEMFD is
/// set, through a temporary file in $TMPDIR or /tmp that is unlinked right
/// after dlopen. The runtime library is promoted to the global symbol scope
/// first, so the code can resolve the functions it expects the runtime to
/// provide (_mlir_memref_to_llvm_alloc, mgpu*) even when the runtime itself
/// was opened RTLD_LOCAL (as Python's ctypes does).
class SharedObject {
public:
  SharedObject() = default;
  SharedObject(const SharedObject &) = delete;
  SharedObject &operator=(const SharedObject &) = delete;
  ~SharedObject();

  /// Loads `size` bytes of ELF from memory; `what` names the blob.
  mf_status_t load(const unsigned char *data, size_t size,
                   const std::string &what);

  /// Returns the address of `symbol`, or nullptr with `error` set.
  void *lookup(const std::string &symbol, std::string &error) const;

private:
  std::string loadFromMemfd(const unsigned char *data, size_t size);
  std::string loadFromTempFile(const unsigned char *data, size_t size);

  void *handle = nullptr;
  /// The memfd and its /proc path, when loaded that way.
  int fd = -1;
  std::string path;
};

/// The host code of one module: its shared objects and entry addresses.
struct HostCode {
  std::vector<std::unique_ptr<SharedObject>> objects;
  /// One per manifest entry, in manifest order.
  std::vector<EntryFn> entries;

  /// Loads the host blob of every entry of `manifest` (each blob once) and
  /// looks up the entry symbols. `afterLoad`, if set, runs right after each
  /// blob is loaded (its constructors have run) and may fail the load.
  mf_status_t
  load(const Manifest &manifest, const unsigned char *data,
       const char *target,
       const std::function<mf_status_t(const BlobSpec &)> &afterLoad = {});
};

/// The memref descriptors of one call, {allocated, aligned, offset,
/// sizes[r], strides[r]} per argument, dense row-major, on the stack for up
/// to 16 arguments.
class MemRefArgs {
public:
  MemRefArgs(const mf_tensor_t *args, size_t numArgs);
  MemRefArgs(const MemRefArgs &) = delete;
  MemRefArgs &operator=(const MemRefArgs &) = delete;

  /// The args array to pass to an entry point.
  void **get() { return pointers; }

private:
  static constexpr size_t kInlineArgs = 16;
  static constexpr size_t kWordsPerArg = 3 + 2 * MF_MAX_RANK;
  int64_t inlineWords[kInlineArgs * kWordsPerArg];
  void *inlinePointers[kInlineArgs];
  std::vector<int64_t> heapWords;
  std::vector<void *> heapPointers;
  void **pointers = inlinePointers;
};

} // namespace mf::rt

#endif // MF_RUNTIME_SRC_BACKENDS_HOST_CODE_H
