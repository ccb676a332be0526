//===- cuda_driver.cc - The CUDA driver API, loaded at run time -----------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The driver is opened RTLD_LOCAL and never closed: compiled code may still
// call it from static destructors. The primary context is retained once and
// never released, for the same reason (and PyTorch shares it).
//
//===----------------------------------------------------------------------===//

#include "cuda_driver.h"

#include "../../status.h"

#include <cerrno>
#include <cstdlib>
#include <dlfcn.h>

using namespace mf::rt;
using namespace mf::rt::cuda;

namespace {

/// The driver, or why there is none.
struct DriverState {
  Driver driver = {};
  mf_status_code_t code = MF_STATUS_OK;
  std::string error;
};

/// Resolves `symbol` into `slot`; false if the library lacks it.
template <typename Fn> bool resolve(void *library, const char *symbol, Fn &slot) {
  slot = reinterpret_cast<Fn>(::dlsym(library, symbol));
  return slot != nullptr;
}

/// Opens the driver and resolves its functions; returns an error message, or
/// "" on success.
std::string openDriver(Driver &d) {
  const char *override = std::getenv("MF_CUDA_DRIVER_LIBRARY");
  d.library = override && *override ? override : "libcuda.so.1";
  void *library = ::dlopen(d.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *message = ::dlerror();
    std::string error = message ? message : "unknown dlopen error";
    // dlerror usually starts with the path already.
    if (error.find(d.library) == std::string::npos)
      error = d.library + ": " + error;
    return "cannot load the CUDA driver (" + error + ")" +
           (override && *override ? " (from MF_CUDA_DRIVER_LIBRARY)" : "");
  }
  std::string missing;
  auto require = [&](const char *symbol, auto &slot) {
    if (!resolve(library, symbol, slot))
      missing += (missing.empty() ? "" : ", ") + std::string(symbol);
  };
  require("cuGetErrorName", d.cuGetErrorName);
  require("cuInit", d.cuInit);
  require("cuDeviceGetCount", d.cuDeviceGetCount);
  require("cuDeviceGet", d.cuDeviceGet);
  require("cuDeviceGetAttribute", d.cuDeviceGetAttribute);
  require("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain);
  require("cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryCtxRelease);
  require("cuCtxSetCurrent", d.cuCtxSetCurrent);
  require("cuCtxGetCurrent", d.cuCtxGetCurrent);
  require("cuCtxGetDevice", d.cuCtxGetDevice);
  require("cuCtxSynchronize", d.cuCtxSynchronize);
  require("cuModuleLoadData", d.cuModuleLoadData);
  require("cuModuleUnload", d.cuModuleUnload);
  require("cuModuleGetFunction", d.cuModuleGetFunction);
  require("cuFuncSetAttribute", d.cuFuncSetAttribute);
  require("cuLaunchKernel", d.cuLaunchKernel);
  require("cuStreamCreate", d.cuStreamCreate);
  require("cuStreamSynchronize", d.cuStreamSynchronize);
  require("cuStreamDestroy_v2", d.cuStreamDestroy);
  require("cuStreamWaitEvent", d.cuStreamWaitEvent);
  require("cuEventCreate", d.cuEventCreate);
  require("cuEventRecord", d.cuEventRecord);
  require("cuEventSynchronize", d.cuEventSynchronize);
  require("cuEventDestroy_v2", d.cuEventDestroy);
  require("cuMemAlloc_v2", d.cuMemAlloc);
  require("cuMemFree_v2", d.cuMemFree);
  require("cuMemcpyHtoD_v2", d.cuMemcpyHtoD);
  require("cuMemcpyDtoH_v2", d.cuMemcpyDtoH);
  require("cuMemcpyDtoD_v2", d.cuMemcpyDtoD);
  require("cuMemcpyAsync", d.cuMemcpyAsync);
  require("cuMemsetD32Async", d.cuMemsetD32Async);
  require("cuMemsetD16Async", d.cuMemsetD16Async);
  require("cuPointerGetAttribute", d.cuPointerGetAttribute);
  if (!missing.empty())
    return "the CUDA driver " + d.library + " lacks " + missing +
           " (a driver older than CUDA 11?)";
  resolve(library, "cuMemAllocAsync", d.cuMemAllocAsync);
  resolve(library, "cuMemFreeAsync", d.cuMemFreeAsync);
  resolve(library, "cuFuncGetName", d.cuFuncGetName);
  resolve(library, "cuDeviceGetDefaultMemPool", d.cuDeviceGetDefaultMemPool);
  resolve(library, "cuMemPoolSetAttribute", d.cuMemPoolSetAttribute);
  return "";
}

/// Loads the driver and picks the device and context.
const DriverState *initialize() {
  auto *state = new DriverState;
  Driver &d = state->driver;
  auto fail = [&](mf_status_code_t code, std::string error) {
    state->code = code;
    state->error = "CUDA backend: " + std::move(error);
    return state;
  };
  std::string error = openDriver(d);
  if (!error.empty())
    return fail(MF_STATUS_UNAVAILABLE, error);
  auto failedCall = [&](const char *call, CUresult result) {
    return fail(MF_STATUS_UNAVAILABLE,
                concat(call, " failed: ", errorName(d, result)));
  };
  if (CUresult result = d.cuInit(0))
    return failedCall("cuInit", result);

  if (const char *text = std::getenv("MF_CUDA_DEVICE"); text && *text) {
    char *end = nullptr;
    errno = 0;
    long ordinal = std::strtol(text, &end, 10);
    if (errno || *end || ordinal < 0 || ordinal > 1 << 20)
      return fail(MF_STATUS_INVALID_ARGUMENT,
                  concat("MF_CUDA_DEVICE='", text,
                         "' is not a device ordinal"));
    d.ordinal = static_cast<int>(ordinal);
  }
  int count = 0;
  if (CUresult result = d.cuDeviceGetCount(&count))
    return failedCall("cuDeviceGetCount", result);
  if (d.ordinal >= count)
    return fail(MF_STATUS_UNAVAILABLE,
                concat("there is no CUDA device ", d.ordinal, " (", count,
                       " devices",
                       std::getenv("MF_CUDA_DEVICE") ? "; MF_CUDA_DEVICE" : "",
                       ")"));
  if (CUresult result = d.cuDeviceGet(&d.device, d.ordinal))
    return failedCall("cuDeviceGet", result);
  if (CUresult result = d.cuDevicePrimaryCtxRetain(&d.context, d.device))
    return failedCall("cuDevicePrimaryCtxRetain", result);

  // Stream-ordered allocation keeps the compiled code's temporaries from
  // synchronizing the device; older drivers and some devices lack it.
  int pools = 0;
  d.asyncAlloc = d.cuMemAllocAsync && d.cuMemFreeAsync &&
                 d.cuDeviceGetAttribute(
                     &pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED,
                     d.device) == CUDA_SUCCESS &&
                 pools;
  // The default pool returns freed memory to the OS at every
  // synchronization, so each call would map its temporaries again; keep
  // them pooled instead, as PyTorch's allocator keeps its blocks. Only
  // speed is at stake, so failures are ignored.
  CUmemoryPool pool = nullptr;
  if (d.asyncAlloc && d.cuDeviceGetDefaultMemPool && d.cuMemPoolSetAttribute &&
      d.cuDeviceGetDefaultMemPool(&pool, d.device) == CUDA_SUCCESS) {
    uint64_t threshold = UINT64_MAX;
    d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                            &threshold);
  }
  return state;
}

} // namespace

mf_status_t cuda::getDriver(const Driver *&out,
                            const std::string &unavailableSuffix) {
  // Never destroyed: compiled code may call the driver during static
  // destruction.
  static const DriverState *state = initialize();
  if (state->code == MF_STATUS_OK) {
    out = &state->driver;
    return nullptr;
  }
  return makeStatus(state->code, __FILE__, __LINE__,
                    state->code == MF_STATUS_UNAVAILABLE
                        ? state->error + unavailableSuffix
                        : state->error);
}

std::string cuda::errorName(const Driver &driver, CUresult result) {
  const char *name = nullptr;
  if (driver.cuGetErrorName &&
      driver.cuGetErrorName(result, &name) == CUDA_SUCCESS && name)
    return name;
  return "CUresult " + std::to_string(result);
}

mf_status_code_t cuda::statusCodeOf(CUresult result) {
  switch (result) {
  case CUDA_ERROR_OUT_OF_MEMORY:
    return MF_STATUS_RESOURCE_EXHAUSTED;
  case CUDA_ERROR_NOT_INITIALIZED:
  case CUDA_ERROR_DEINITIALIZED:
  case CUDA_ERROR_NO_DEVICE:
  case CUDA_ERROR_INVALID_DEVICE:
    return MF_STATUS_UNAVAILABLE;
  default:
    break;
  }
  return MF_STATUS_UNKNOWN;
}

mf_status_t cuda::callFailed(const Driver &driver, const char *call,
                             CUresult result, const std::string &detail,
                             const char *file, int line) {
  return makeStatus(statusCodeOf(result), file, line,
                    concat(call, " failed: ", errorName(driver, result),
                           detail.empty() ? "" : " (", detail,
                           detail.empty() ? "" : ")"));
}

ContextScope::~ContextScope() {
  if (driver)
    driver->cuCtxSetCurrent(previous);
}

mf_status_t ContextScope::enter(const Driver &d) {
  CUcontext current = nullptr;
  if (CUresult result = d.cuCtxGetCurrent(&current))
    return MF_CUDA_CALL_FAILED(d, "cuCtxGetCurrent", result, "");
  if (current == d.context)
    return nullptr;
  if (CUresult result = d.cuCtxSetCurrent(d.context))
    return MF_CUDA_CALL_FAILED(d, "cuCtxSetCurrent", result,
                               concat("primary context of device ", d.ordinal));
  driver = &d;
  previous = current;
  return nullptr;
}
