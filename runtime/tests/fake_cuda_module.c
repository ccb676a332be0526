/*===- fake_cuda_module.c - A stand-in for compiled CUDA host code --------===*\
|*                                                                            *|
|* Part of MegaFold-MLIR. Does what the host code from MLIR's gpu-to-llvm    *|
|* does: loads its embedded image with mgpuModuleLoad in a constructor       *|
|* (unloads it in a destructor), and in each entry looks its kernels up,     *|
|* makes a stream, launches, synchronizes and destroys the stream. The       *|
|* mgpu* functions come from the runtime; the image is one the fake driver   *|
|* (fake_cuda_driver.cc) accepts.                                            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "fake_cuda_driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *mgpuModuleLoad(void *data, uint64_t size);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void *mgpuStreamCreate(void);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamDestroy(void *stream);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream);
void mgpuMemset32(void *dst, int value, size_t count, void *stream);
void *mgpuEventCreate(void);
void mgpuEventDestroy(void *event);
void mgpuEventRecord(void *event, void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);

/// The embedded "fatbin": two kernels of three 8-byte parameters each.
static const char kImage[] =
    MF_FAKE_CUBIN_MAGIC "scale_kernel 3\nstaged_kernel 3\n";

static void *module;

__attribute__((constructor)) static void loadModule(void) {
  module = mgpuModuleLoad((void *)(uintptr_t)kImage, sizeof(kImage));
}

__attribute__((destructor)) static void unloadModule(void) {
  mgpuModuleUnload(module);
}

/// The memref descriptor of a rank-1 memref.
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} MemRef1;

/// scale(x[N], out[N]): scale_kernel(x, out, N) on ceil(N / 128) blocks of
/// 128 threads.
__attribute__((visibility("default"))) void _mf_entry_scale(void **args) {
  const MemRef1 *x = (const MemRef1 *)args[0];
  const MemRef1 *out = (const MemRef1 *)args[1];
  float *xData = x->aligned, *outData = out->aligned;
  int64_t n = x->sizes[0];
  void *params[] = {&xData, &outData, &n};
  void *function = mgpuModuleGetFunction(module, "scale_kernel");
  void *stream = mgpuStreamCreate();
  mgpuLaunchKernel(function, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream,
                   params, NULL, 3);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}

/// staged(x[N], out[N]): out = 1.0f through a temporary: the temporary is
/// set to 1.0f, staged_kernel(tmp, x, N) runs with 64 KiB of dynamic shared
/// memory behind an event, then the temporary is copied to out and freed.
__attribute__((visibility("default"))) void _mf_entry_staged(void **args) {
  const MemRef1 *x = (const MemRef1 *)args[0];
  const MemRef1 *out = (const MemRef1 *)args[1];
  float *xData = x->aligned;
  int64_t n = x->sizes[0];
  void *stream = mgpuStreamCreate();
  void *tmp = mgpuMemAlloc((uint64_t)n * 4, stream, false);
  mgpuMemset32(tmp, 0x3f800000, (size_t)n, stream);
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, stream);
  mgpuStreamWaitEvent(stream, event);
  mgpuEventDestroy(event);
  void *params[] = {&tmp, &xData, &n};
  void *function = mgpuModuleGetFunction(module, "staged_kernel");
  mgpuLaunchKernel(function, n, 1, 1, 32, 1, 1, 64 * 1024, stream, params,
                   NULL, 3);
  mgpuMemcpy(out->aligned, tmp, (size_t)n * 4, stream);
  mgpuMemFree(tmp, stream);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}

/// missing(x[N], out[N]): launches a kernel the image lacks; the runtime
/// must skip the launch (the function is NULL) and report the lookup.
__attribute__((visibility("default"))) void _mf_entry_missing(void **args) {
  const MemRef1 *x = (const MemRef1 *)args[0];
  float *xData = x->aligned;
  void *params[] = {&xData};
  void *function = mgpuModuleGetFunction(module, "no_such_kernel");
  void *stream = mgpuStreamCreate();
  mgpuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL, 1);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}
