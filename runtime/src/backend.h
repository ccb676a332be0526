//===- backend.h - The interface of runtime backends ------------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// A backend turns a validated manifest plus the artifact bytes into an
// Executable, which runs entry points on tensors already checked against the
// manifest. The CPU backend is always built; CUDA and HIP will sit beside it
// in backends/{cuda,hip}/ (the only places that may mention those vendors).
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKEND_H
#define MF_RUNTIME_SRC_BACKEND_H

#include "manifest.h"

#include <memory>

namespace mf::rt {

/// The loaded code of one module on one backend. Immutable after loading, so
/// invoke may run on several threads at once.
class Executable {
public:
  virtual ~Executable() = default;

  /// Runs entry `entryIndex` on `args` (inputs then outputs), which the
  /// caller has already checked against the manifest.
  virtual mf_status_t invoke(size_t entryIndex, const mf_tensor_t *args,
                             size_t numArgs) const = 0;
};

/// A target the runtime can run ("cpu", later "cuda" and "rocm").
class Backend {
public:
  virtual ~Backend() = default;

  /// The manifest target this backend runs.
  virtual const char *target() const = 0;

  /// Where the tensors of this backend's modules must live.
  virtual mf_device_kind_t deviceKind() const = 0;

  /// Loads the code of `manifest` from the artifact bytes `data[0, size)`.
  virtual mf_status_t load(const Manifest &manifest, const unsigned char *data,
                           size_t size,
                           std::unique_ptr<Executable> &out) const = 0;
};

/// Creates the CPU backend (target "cpu": ELF shared objects, dlopen).
std::unique_ptr<Backend> createCpuBackend();

/// Checks `args` against `entry` of a module whose tensors live on `device`.
/// Returns INVALID_ARGUMENT naming the entry and the argument on a mismatch.
mf_status_t checkArguments(const EntrySpec &entry, mf_device_kind_t device,
                           const mf_tensor_t *args, size_t numArgs);

/// Returns "cpu", "cuda" or "hip".
const char *deviceKindName(mf_device_kind_t kind);

} // namespace mf::rt

#endif // MF_RUNTIME_SRC_BACKEND_H
