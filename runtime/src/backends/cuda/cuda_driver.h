//===- cuda_driver.h - The CUDA driver API, loaded at run time --*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Our own declarations of the few driver API types, constants and functions
// the runtime uses (no CUDA headers: the runtime builds without CUDA), the
// driver library opened with dlopen once per process, and the device and
// primary context it runs on.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKENDS_CUDA_CUDA_DRIVER_H
#define MF_RUNTIME_SRC_BACKENDS_CUDA_CUDA_DRIVER_H

#include "mf/runtime/api.h"

#include <cstddef>
#include <cstdint>
#include <string>

// The opaque handle types, declared as cuda.h does (global C structs), so
// that the function types match the driver's exactly.
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUmemPoolHandle_st;

namespace mf::rt::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
using CUmemoryPool = CUmemPoolHandle_st *;

// The values of cuda.h's enums that we use.
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NOT_INITIALIZED = 3;
constexpr CUresult CUDA_ERROR_DEINITIALIZED = 4;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_INVALID_DEVICE = 101;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
constexpr int CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9;
constexpr unsigned CU_MEMORYTYPE_HOST = 1;
constexpr unsigned CU_MEMORYTYPE_DEVICE = 2;
constexpr unsigned CU_MEMORYTYPE_UNIFIED = 4;
constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;

/// Kernels may use this much dynamic shared memory without opting in.
constexpr int kDefaultMaxDynamicSharedBytes = 48 * 1024;

/// The loaded driver: its functions (named as documented; some are
/// exported as *_v2) and the device and primary context the runtime uses.
struct Driver {
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute,
                                   CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuCtxGetCurrent)(CUcontext *context);
  CUresult (*cuCtxGetDevice)(CUdevice *device);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute,
                                 int value);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream,
                             void **params, void **extra);
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event,
                                unsigned flags);
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuEventSynchronize)(CUevent event);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuMemAlloc)(CUdeviceptr *ptr, size_t size);
  CUresult (*cuMemFree)(CUdeviceptr ptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t size);
  CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t size);
  CUresult (*cuMemcpyDtoD)(CUdeviceptr dst, CUdeviceptr src, size_t size);
  CUresult (*cuMemcpyAsync)(CUdeviceptr dst, CUdeviceptr src, size_t size,
                            CUstream stream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr dst, unsigned value, size_t count,
                               CUstream stream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr dst, unsigned short value,
                               size_t count, CUstream stream);
  CUresult (*cuPointerGetAttribute)(void *data, int attribute,
                                    CUdeviceptr ptr);
  // Optional (NULL when the driver lacks them).
  CUresult (*cuMemAllocAsync)(CUdeviceptr *ptr, size_t size, CUstream stream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr ptr, CUstream stream);
  CUresult (*cuFuncGetName)(const char **name, CUfunction function);
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *pool, CUdevice device);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool pool, int attribute,
                                    void *value);

  /// The library that was opened.
  std::string library;
  /// The device (ordinal and handle) and its retained primary context.
  int ordinal = 0;
  CUdevice device = 0;
  CUcontext context = nullptr;
  /// Whether mgpuMemAlloc/Free are stream-ordered (cuMemAllocAsync).
  bool asyncAlloc = false;
};

/// Loads and initializes the driver on first use (thread-safe; the outcome,
/// success or failure, is kept for the life of the process). The library is
/// libcuda.so.1 or $MF_CUDA_DRIVER_LIBRARY; the device 0 or $MF_CUDA_DEVICE.
/// Fails with UNAVAILABLE (with `unavailableSuffix` appended to the message)
/// when there is no driver or device.
mf_status_t getDriver(const Driver *&out,
                      const std::string &unavailableSuffix = "");

/// Returns the name of `result` (e.g. "CUDA_ERROR_INVALID_VALUE").
std::string errorName(const Driver &driver, CUresult result);

/// The status code for a failed call: RESOURCE_EXHAUSTED for out of memory,
/// UNAVAILABLE for a missing or lost device, UNKNOWN otherwise.
mf_status_code_t statusCodeOf(CUresult result);

/// Returns "`call` failed: <error name>" plus " (`detail`)" if not empty, as
/// a status of code statusCodeOf(result).
mf_status_t callFailed(const Driver &driver, const char *call,
                       CUresult result, const std::string &detail,
                       const char *file, int line);

#define MF_CUDA_CALL_FAILED(driver, call, result, detail)                      \
  ::mf::rt::cuda::callFailed(driver, call, result, detail, __FILE__, __LINE__)

/// Makes the primary context current on this thread until destroyed, then
/// restores the previous one (PyTorch's, a caller's own, or none).
class ContextScope {
public:
  ContextScope() = default;
  ContextScope(const ContextScope &) = delete;
  ContextScope &operator=(const ContextScope &) = delete;
  ~ContextScope();

  /// Makes the context current; call once.
  mf_status_t enter(const Driver &driver);

private:
  const Driver *driver = nullptr;
  CUcontext previous = nullptr;
};

} // namespace mf::rt::cuda

#endif // MF_RUNTIME_SRC_BACKENDS_CUDA_CUDA_DRIVER_H
