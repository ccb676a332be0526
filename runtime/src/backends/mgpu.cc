//===- mgpu.cc - The exported mgpu* functions -----------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Our version of the functions upstream MLIR keeps in libmlir_cuda_runtime
// and libmlir_rocm_runtime (which Debian does not ship), with the signatures
// MLIR 22's gpu-to-llvm calls. They are exported from the runtime library,
// which promotes itself to the global symbol scope before it loads host
// code (host_code.cc), so the host code's undefined mgpu* references resolve
// here; each forwards to the backend of the thread's scope (mgpu.h).
//
//===----------------------------------------------------------------------===//

#include "mgpu.h"

#include "mf/runtime/api.h"

using namespace mf::rt;
using namespace mf::rt::mgpu;

#if !defined(MF_RUNTIME_HAVE_CUDA) && !defined(MF_RUNTIME_HAVE_HIP)
#error "mgpu.cc needs a GPU backend"
#endif

namespace {

thread_local const Functions *activeFunctions = nullptr;

/// The functions of this thread's scope, or the default backend's.
const Functions &current() {
  if (const Functions *functions = activeFunctions)
    return *functions;
#ifdef MF_RUNTIME_HAVE_CUDA
  return cudaFunctions();
#else
  return hipFunctions();
#endif
}

} // namespace

DispatchScope::DispatchScope(const Functions &functions)
    : previous(activeFunctions) {
  activeFunctions = &functions;
}

DispatchScope::~DispatchScope() { activeFunctions = previous; }

extern "C" {

MF_API_EXPORT void *mgpuModuleLoad(void *data, uint64_t size) {
  return current().moduleLoad(data, size);
}

MF_API_EXPORT void mgpuModuleUnload(void *module) {
  current().moduleUnload(module);
}

MF_API_EXPORT void *mgpuModuleGetFunction(void *module, const char *name) {
  return current().moduleGetFunction(module, name);
}

MF_API_EXPORT void *mgpuStreamCreate() { return current().streamCreate(); }

MF_API_EXPORT void mgpuStreamSynchronize(void *stream) {
  current().streamSynchronize(stream);
}

MF_API_EXPORT void mgpuStreamDestroy(void *stream) {
  current().streamDestroy(stream);
}

MF_API_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                    intptr_t gridY, intptr_t gridZ,
                                    intptr_t blockX, intptr_t blockY,
                                    intptr_t blockZ, int32_t smem, void *stream,
                                    void **params, void **extra,
                                    size_t paramsCount) {
  current().launchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                         smem, stream, params, extra, paramsCount);
}

MF_API_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, void *stream,
                                 bool isHostShared) {
  return current().memAlloc(sizeBytes, stream, isHostShared);
}

MF_API_EXPORT void mgpuMemFree(void *ptr, void *stream) {
  current().memFree(ptr, stream);
}

MF_API_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                              void *stream) {
  current().memcpy(dst, src, sizeBytes, stream);
}

MF_API_EXPORT void mgpuMemset32(void *dst, int value, size_t count,
                                void *stream) {
  current().memset32(dst, value, count, stream);
}

MF_API_EXPORT void mgpuMemset16(void *dst, int shortValue, size_t count,
                                void *stream) {
  current().memset16(dst, shortValue, count, stream);
}

MF_API_EXPORT void *mgpuEventCreate() { return current().eventCreate(); }

MF_API_EXPORT void mgpuEventDestroy(void *event) {
  current().eventDestroy(event);
}

MF_API_EXPORT void mgpuEventSynchronize(void *event) {
  current().eventSynchronize(event);
}

MF_API_EXPORT void mgpuEventRecord(void *event, void *stream) {
  current().eventRecord(event, stream);
}

MF_API_EXPORT void mgpuStreamWaitEvent(void *stream, void *event) {
  current().streamWaitEvent(stream, event);
}

MF_API_EXPORT void mgpuSetDefaultDevice(int32_t device) {
  current().setDefaultDevice(device);
}

} // extern "C"
