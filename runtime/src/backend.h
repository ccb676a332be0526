//===- backend.h - The interface of runtime backends ------------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// A backend turns a validated manifest plus the artifact bytes into an
// Executable, which runs entry points on tensors already checked against the
// manifest. The CPU backend is always built; CUDA and HIP (both optional)
// sit beside it in backends/{cuda,hip}/ (the only places that may mention
// those vendors, with backends/mgpu.*, which routes the mgpu* calls of
// compiled code between them).
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

  /// Runs (CPU) or enqueues (GPU) entry `entryIndex` on `args` (inputs then
  /// outputs), which the caller has already checked against the manifest.
  /// `stream` is the caller's stream (for CUDA a CUstream, NULL being the
  /// legacy default stream; for HIP a hipStream_t, NULL being the null
  /// stream; a CPU module refuses any but NULL). With `wait`,
  /// returns once the work is done and reports its errors.
  virtual mf_status_t invoke(size_t entryIndex, const mf_tensor_t *args,
                             size_t numArgs, void *stream,
                             bool wait) const = 0;
};

/// A target the runtime can run ("cpu", "cuda", "rocm").
class Backend {
public:
  virtual ~Backend() = default;

  /// The manifest target this backend runs.
  virtual const char *target() const = 0;

  /// Where the tensors of this backend's modules must live.
  virtual mf_device_kind_t deviceKind() const = 0;

  /// Loads the code of `manifest` from the artifact bytes `data[0, size)`.
  /// `manifest` outlives the executable (both belong to the module).
  virtual mf_status_t load(const Manifest &manifest, const unsigned char *data,
                           size_t size,
                           std::unique_ptr<Executable> &out) const = 0;

  /// Memory of deviceKind() for mf_device_*. The caller has checked that
  /// sizes are non-zero, pointers non-NULL and copy kinds valid.
  virtual mf_status_t allocate(size_t size, void **out) const = 0;
  virtual mf_status_t deallocate(void *ptr) const = 0;
  virtual mf_status_t copy(void *dst, const void *src, size_t size,
                           mf_copy_kind_t kind) const = 0;
  /// Waits for all work on the device.
  virtual mf_status_t synchronize() const = 0;
};

/// Creates the CPU backend (target "cpu": ELF shared objects, dlopen).
std::unique_ptr<Backend> createCpuBackend();

#ifdef MF_RUNTIME_HAVE_CUDA
/// Creates the CUDA backend (target "cuda": host code plus an embedded
/// fatbin, run over the driver API loaded with dlopen).
std::unique_ptr<Backend> createCudaBackend();
#endif

#ifdef MF_RUNTIME_HAVE_HIP
/// Creates the HIP backend (target "rocm": host code plus an embedded
/// code object, run over the HIP runtime loaded with dlopen).
std::unique_ptr<Backend> createHipBackend();
#endif

/// Checks `args` against `entry` of a module whose tensors live on `device`.
/// Returns INVALID_ARGUMENT naming the entry and the argument on a mismatch.
mf_status_t checkArguments(const EntrySpec &entry, mf_device_kind_t device,
                           const mf_tensor_t *args, size_t numArgs);

/// Returns "cpu", "cuda" or "hip".
const char *deviceKindName(mf_device_kind_t kind);

} // namespace mf::rt

#endif // MF_RUNTIME_SRC_BACKEND_H
