//===- mgpu.h - Routing the mgpu* functions to a GPU backend ----*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Host code of cuda and rocm artifacts alike calls upstream MLIR's mgpu*
// functions (MLIR's CUDA and ROCm wrappers share names and signatures), and
// a process exports each symbol once. So the runtime exports them here and
// routes each call to the backend of the thread's innermost call scope (an
// invocation, a module load or unload in progress); outside any scope, to
// the CUDA backend if built, else the HIP one.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKENDS_MGPU_H
#define MF_RUNTIME_SRC_BACKENDS_MGPU_H

#include <cstddef>
#include <cstdint>

namespace mf::rt::mgpu {

/// One backend's implementation of the mgpu* functions (same signatures).
struct Functions {
  void *(*moduleLoad)(void *data, uint64_t size);
  void (*moduleUnload)(void *module);
  void *(*moduleGetFunction)(void *module, const char *name);
  void *(*streamCreate)();
  void (*streamSynchronize)(void *stream);
  void (*streamDestroy)(void *stream);
  void (*launchKernel)(void *function, intptr_t gridX, intptr_t gridY,
                       intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                       intptr_t blockZ, int32_t smem, void *stream,
                       void **params, void **extra, size_t paramsCount);
  void *(*memAlloc)(uint64_t sizeBytes, void *stream, bool isHostShared);
  void (*memFree)(void *ptr, void *stream);
  void (*memcpy)(void *dst, void *src, size_t sizeBytes, void *stream);
  void (*memset32)(void *dst, int value, size_t count, void *stream);
  void (*memset16)(void *dst, int shortValue, size_t count, void *stream);
  void *(*eventCreate)();
  void (*eventDestroy)(void *event);
  void (*eventSynchronize)(void *event);
  void (*eventRecord)(void *event, void *stream);
  void (*streamWaitEvent)(void *stream, void *event);
  void (*setDefaultDevice)(int32_t device);
};

/// Routes this thread's mgpu* calls to `functions` until destroyed, then
/// back to the enclosing scope's (scopes nest).
class DispatchScope {
public:
  explicit DispatchScope(const Functions &functions);
  DispatchScope(const DispatchScope &) = delete;
  DispatchScope &operator=(const DispatchScope &) = delete;
  ~DispatchScope();

private:
  const Functions *previous;
};

#ifdef MF_RUNTIME_HAVE_CUDA
/// cuda_mgpu.cc.
const Functions &cudaFunctions();
#endif
#ifdef MF_RUNTIME_HAVE_HIP
/// hip/hip_mgpu.cc.
const Functions &hipFunctions();
#endif

} // namespace mf::rt::mgpu

#endif // MF_RUNTIME_SRC_BACKENDS_MGPU_H
