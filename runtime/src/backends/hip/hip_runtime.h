//===- hip_runtime.h - The HIP runtime API, loaded at run time --*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Our own declarations of the few HIP runtime types, constants and
// functions the runtime uses (no HIP headers: the runtime builds without
// ROCm), the library (libamdhip64) opened with dlopen once per process, and
// the device it runs on. The values are those of ROCm 5 and 6, which agree
// on all of them except hipMemoryType (see PointerAttributes).
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKENDS_HIP_HIP_RUNTIME_H
#define MF_RUNTIME_SRC_BACKENDS_HIP_HIP_RUNTIME_H

#include "mf/runtime/api.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

// The opaque handle types, declared as hip_runtime_api.h does (global C
// structs), so that the function types match the library's exactly.
struct ihipModule_t;
struct ihipModuleSymbol_t;
struct ihipStream_t;
struct ihipEvent_t;

/// What hipPointerGetAttributes fills in; a global C struct, as declared by
/// hip_runtime_api.h, with the same layout in ROCm 5 and 6. The values of
/// `type` changed in ROCm 6 (Runtime::memoryKindOf reads them by version),
/// and ROCm 6 reports unregistered host memory with success and type 0,
/// where ROCm 5 fails with hipErrorInvalidValue.
struct hipPointerAttribute_t {
  int type;
  int device;
  void *devicePointer;
  void *hostPointer;
  int isManaged;
  unsigned allocationFlags;
};

namespace mf::rt::hip {

using hipError_t = int;
using hipModule_t = ihipModule_t *;
using hipFunction_t = ihipModuleSymbol_t *;
using hipStream_t = ihipStream_t *;
using hipEvent_t = ihipEvent_t *;
using hipDeviceptr_t = void *;

// The values of hip_runtime_api.h's enums that we use.
constexpr hipError_t hipSuccess = 0;
constexpr hipError_t hipErrorInvalidValue = 1;
constexpr hipError_t hipErrorOutOfMemory = 2;
constexpr hipError_t hipErrorNotInitialized = 3;
constexpr hipError_t hipErrorDeinitialized = 4;
constexpr hipError_t hipErrorNoDevice = 100;
constexpr hipError_t hipErrorInvalidDevice = 101;
constexpr hipError_t hipErrorNotSupported = 801;
constexpr int hipMemcpyHostToDevice = 1;
constexpr int hipMemcpyDeviceToHost = 2;
constexpr int hipMemcpyDeviceToDevice = 3;
constexpr int hipMemcpyDefault = 4;
constexpr unsigned hipStreamNonBlocking = 1;
constexpr unsigned hipEventDisableTiming = 2;

/// hipPointerAttribute_t (ROCm 5 and 6 agree on its layout).
using PointerAttributes = ::hipPointerAttribute_t;

/// What kind of memory a pointer is, whatever the ROCm version.
enum class MemoryKind { Unregistered, Host, Device, Managed, Other };

/// The loaded runtime: its functions and the device the runtime uses.
struct Runtime {
  const char *(*hipGetErrorName)(hipError_t error);
  hipError_t (*hipInit)(unsigned flags);
  hipError_t (*hipRuntimeGetVersion)(int *version);
  hipError_t (*hipGetDeviceCount)(int *count);
  hipError_t (*hipGetDevice)(int *device);
  hipError_t (*hipSetDevice)(int device);
  hipError_t (*hipDeviceSynchronize)();
  hipError_t (*hipModuleLoadData)(hipModule_t *module, const void *image);
  hipError_t (*hipModuleUnload)(hipModule_t module);
  hipError_t (*hipModuleGetFunction)(hipFunction_t *function,
                                     hipModule_t module, const char *name);
  hipError_t (*hipModuleLaunchKernel)(hipFunction_t function, unsigned gridX,
                                      unsigned gridY, unsigned gridZ,
                                      unsigned blockX, unsigned blockY,
                                      unsigned blockZ, unsigned sharedBytes,
                                      hipStream_t stream, void **params,
                                      void **extra);
  hipError_t (*hipStreamCreateWithFlags)(hipStream_t *stream, unsigned flags);
  hipError_t (*hipStreamSynchronize)(hipStream_t stream);
  hipError_t (*hipStreamDestroy)(hipStream_t stream);
  hipError_t (*hipStreamWaitEvent)(hipStream_t stream, hipEvent_t event,
                                   unsigned flags);
  hipError_t (*hipEventCreateWithFlags)(hipEvent_t *event, unsigned flags);
  hipError_t (*hipEventRecord)(hipEvent_t event, hipStream_t stream);
  hipError_t (*hipEventSynchronize)(hipEvent_t event);
  hipError_t (*hipEventDestroy)(hipEvent_t event);
  hipError_t (*hipMalloc)(void **ptr, size_t size);
  hipError_t (*hipFree)(void *ptr);
  hipError_t (*hipMemcpy)(void *dst, const void *src, size_t size, int kind);
  hipError_t (*hipMemcpyAsync)(void *dst, const void *src, size_t size,
                               int kind, hipStream_t stream);
  hipError_t (*hipMemsetD32Async)(hipDeviceptr_t dst, int value, size_t count,
                                  hipStream_t stream);
  hipError_t (*hipMemsetD16Async)(hipDeviceptr_t dst, unsigned short value,
                                  size_t count, hipStream_t stream);
  hipError_t (*hipPointerGetAttributes)(PointerAttributes *attributes,
                                        const void *ptr);
  // Optional (NULL when the library lacks them: ROCm before 5.3).
  hipError_t (*hipMallocAsync)(void **ptr, size_t size, hipStream_t stream);
  hipError_t (*hipFreeAsync)(void *ptr, hipStream_t stream);

  /// The library that was opened.
  std::string library;
  /// HIP_VERSION of the library (major * 10000000 + minor * 100000 + patch).
  int version = 0;
  /// The device ordinal the runtime uses.
  int ordinal = 0;
  /// Whether mgpuMemAlloc/Free are stream-ordered (hipMallocAsync). Cleared
  /// for good when the device refuses them with hipErrorNotSupported.
  mutable std::atomic<bool> asyncAlloc{false};

  /// Reads PointerAttributes::type.
  MemoryKind memoryKindOf(int type) const;
};

/// Loads and initializes the runtime on first use (thread-safe; the
/// outcome, success or failure, is kept for the life of the process). The
/// library is $MF_HIP_RUNTIME_LIBRARY, or the first of libamdhip64.so.6,
/// libamdhip64.so.5, libamdhip64.so that opens; the device 0 or
/// $MF_HIP_DEVICE. Fails with UNAVAILABLE (with `unavailableSuffix` appended
/// to the message) when there is no library or device.
mf_status_t getRuntime(const Runtime *&out,
                       const std::string &unavailableSuffix = "");

/// Returns the name of `error` (e.g. "hipErrorInvalidValue").
std::string errorName(const Runtime &runtime, hipError_t error);

/// The status code for a failed call: RESOURCE_EXHAUSTED for out of memory,
/// UNAVAILABLE for a missing or lost device, UNKNOWN otherwise.
mf_status_code_t statusCodeOf(hipError_t error);

/// Returns "`call` failed: <error name>" plus " (`detail`)" if not empty, as
/// a status of code statusCodeOf(error).
mf_status_t callFailed(const Runtime &runtime, const char *call,
                       hipError_t error, const std::string &detail,
                       const char *file, int line);

#define MF_HIP_CALL_FAILED(runtime, call, error, detail)                       \
  ::mf::rt::hip::callFailed(runtime, call, error, detail, __FILE__, __LINE__)

/// Makes the runtime's device current on this thread until destroyed, then
/// restores the previous one (HIP keeps a current device per thread, which
/// PyTorch sets too).
class DeviceScope {
public:
  DeviceScope() = default;
  DeviceScope(const DeviceScope &) = delete;
  DeviceScope &operator=(const DeviceScope &) = delete;
  ~DeviceScope();

  /// Makes the device current; call once.
  mf_status_t enter(const Runtime &runtime);

private:
  const Runtime *runtime = nullptr;
  int previous = 0;
};

} // namespace mf::rt::hip

#endif // MF_RUNTIME_SRC_BACKENDS_HIP_HIP_RUNTIME_H
