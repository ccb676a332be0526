//===- cuda_mgpu.cc - The mgpu* functions compiled host code calls --------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The CUDA implementation of the mgpu* functions host code calls (exported
// by ../mgpu.cc, which routes each call to the backend of the thread's
// scope).
//
// A call from outside any CallScope (no mf_* call in progress on the thread)
// runs with the primary context made current for its duration; its errors
// are dropped, as there is no one to report them to.
//
//===----------------------------------------------------------------------===//

#include "cuda_mgpu.h"

#include "../../status.h"

#include <cstdint>

using namespace mf::rt;
using namespace mf::rt::cuda;

namespace {

thread_local CallScope *activeScope = nullptr;

/// Runs `body(scope)` in this thread's scope, or in a fresh one outside any.
/// A call that starts work (`startsWork`) is skipped after an error; one
/// that releases something still runs.
template <typename Body>
void run(const char *call, bool startsWork, Body &&body) noexcept {
  try {
    if (CallScope *scope = activeScope) {
      if (!(startsWork && scope->failed()))
        body(*scope);
      return;
    }
    const Driver *driver = nullptr;
    if (mf_status_t status = getDriver(driver)) {
      mf_status_free(status);
      return;
    }
    ContextScope context;
    if (mf_status_t status = context.enter(*driver)) {
      mf_status_free(status);
      return;
    }
    CallScope scope(*driver);
    body(scope);
  } catch (...) {
    // Only allocation can throw here.
    if (CallScope *scope = activeScope)
      scope->fail(call, MF_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
}

CUdeviceptr devicePtr(const void *ptr) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr));
}

/// Names `function` for an error message.
const char *kernelName(const CallScope &scope, CUfunction function) {
  if (function && function == scope.lastFunction && scope.lastFunctionName)
    return scope.lastFunctionName;
  const char *name = nullptr;
  if (function && scope.driver.cuFuncGetName &&
      scope.driver.cuFuncGetName(&name, function) == CUDA_SUCCESS && name)
    return name;
  return "<unknown>";
}

} // namespace

//===----------------------------------------------------------------------===//
// CallScope
//===----------------------------------------------------------------------===//

CallScope::CallScope(const Driver &driver)
    : driver(driver), hasStream(false), stream(nullptr),
      dispatch(mgpu::cudaFunctions()), previous(activeScope) {
  activeScope = this;
}

CallScope::CallScope(const Driver &driver, CUstream stream)
    : driver(driver), hasStream(true), stream(stream),
      dispatch(mgpu::cudaFunctions()), previous(activeScope) {
  activeScope = this;
}

CallScope::~CallScope() { activeScope = previous; }

CallScope *CallScope::active() { return activeScope; }

mf_status_t CallScope::status(const std::string &prefix) const {
  if (!failedCall)
    return nullptr;
  if (hasResult)
    return annotateStatus(
        MF_CUDA_CALL_FAILED(driver, failedCall, result, detail), prefix);
  return makeStatus(code, __FILE__, __LINE__,
                    concat(prefix, failedCall, ": ", detail));
}

void CallScope::fail(const char *call, CUresult error,
                     std::string text) noexcept {
  if (failedCall)
    return;
  failedCall = call;
  hasResult = true;
  result = error;
  detail = std::move(text);
}

void CallScope::fail(const char *call, mf_status_code_t error,
                     std::string text) noexcept {
  if (failedCall)
    return;
  failedCall = call;
  code = error;
  detail = std::move(text);
}

//===----------------------------------------------------------------------===//
// The mgpu* functions
//===----------------------------------------------------------------------===//

// Named as upstream's, private to this file (../mgpu.cc exports them).
namespace {

void *mgpuModuleLoad(void *data, uint64_t size) {
  CUmodule module = nullptr;
  run("mgpuModuleLoad", true, [&](CallScope &scope) {
    if (CUresult result = scope.driver.cuModuleLoadData(&module, data))
      scope.fail("cuModuleLoadData", result,
                 concat("mgpuModuleLoad of a ", size, "-byte image"));
  });
  return module;
}

void mgpuModuleUnload(void *module) {
  if (!module)
    return; // Its load failed, and that was reported.
  run("mgpuModuleUnload", false, [&](CallScope &scope) {
    if (CUresult result =
            scope.driver.cuModuleUnload(static_cast<CUmodule>(module)))
      scope.fail("cuModuleUnload", result, "");
  });
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  run("mgpuModuleGetFunction", true, [&](CallScope &scope) {
    if (!module)
      return scope.fail("mgpuModuleGetFunction", MF_STATUS_INTERNAL,
                        concat("kernel ", name, ": its module is NULL"));
    if (CUresult result = scope.driver.cuModuleGetFunction(
            &function, static_cast<CUmodule>(module), name))
      return scope.fail("cuModuleGetFunction", result,
                        concat("kernel ", name));
    scope.lastFunction = function;
    scope.lastFunctionName = name;
  });
  return function;
}

void *mgpuStreamCreate() {
  CUstream stream = nullptr;
  run("mgpuStreamCreate", true, [&](CallScope &scope) {
    if (scope.hasStream) {
      stream = scope.stream;
      return;
    }
    if (CUresult result =
            scope.driver.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING))
      scope.fail("cuStreamCreate", result, "");
  });
  return stream;
}

void mgpuStreamSynchronize(void *stream) {
  run("mgpuStreamSynchronize", true, [&](CallScope &scope) {
    auto cuStream = static_cast<CUstream>(stream);
    // The caller's stream: its work stays queued behind what came before.
    if (scope.hasStream && cuStream == scope.stream)
      return;
    if (CUresult result = scope.driver.cuStreamSynchronize(cuStream))
      scope.fail("cuStreamSynchronize", result, "");
  });
}

void mgpuStreamDestroy(void *stream) {
  run("mgpuStreamDestroy", false, [&](CallScope &scope) {
    auto cuStream = static_cast<CUstream>(stream);
    if (!cuStream || (scope.hasStream && cuStream == scope.stream))
      return;
    if (CUresult result = scope.driver.cuStreamDestroy(cuStream))
      scope.fail("cuStreamDestroy", result, "");
  });
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount) {
  (void)paramsCount; // The driver knows the kernel's parameters.
  run("mgpuLaunchKernel", true, [&](CallScope &scope) {
    auto cuFunction = static_cast<CUfunction>(function);
    auto describe = [&] {
      return concat("kernel ", kernelName(scope, cuFunction), ", grid ", gridX,
                    "x", gridY, "x", gridZ, ", block ", blockX, "x", blockY,
                    "x", blockZ, ", ", smem, " bytes shared");
    };
    if (!cuFunction)
      return scope.fail("mgpuLaunchKernel", MF_STATUS_INTERNAL,
                        "the function is NULL (" + describe() + ")");
    for (intptr_t extent : {gridX, gridY, gridZ, blockX, blockY, blockZ})
      if (extent < 1 || static_cast<uintptr_t>(extent) > UINT32_MAX)
        return scope.fail("mgpuLaunchKernel", MF_STATUS_INTERNAL,
                          "launch dims out of range (" + describe() + ")");
    if (smem < 0)
      return scope.fail("mgpuLaunchKernel", MF_STATUS_INTERNAL,
                        "negative shared memory size (" + describe() + ")");
    // More dynamic shared memory than the default needs an opt-in per
    // kernel (the function handle is the module's, so it sticks).
    if (smem > kDefaultMaxDynamicSharedBytes)
      if (CUresult result = scope.driver.cuFuncSetAttribute(
              cuFunction, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
              smem))
        return scope.fail("cuFuncSetAttribute", result,
                          "MAX_DYNAMIC_SHARED_SIZE_BYTES for " + describe());
    if (CUresult result = scope.driver.cuLaunchKernel(
            cuFunction, static_cast<unsigned>(gridX),
            static_cast<unsigned>(gridY), static_cast<unsigned>(gridZ),
            static_cast<unsigned>(blockX), static_cast<unsigned>(blockY),
            static_cast<unsigned>(blockZ), static_cast<unsigned>(smem),
            static_cast<CUstream>(stream), params, extra))
      scope.fail("cuLaunchKernel", result, describe());
  });
}

void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared) {
  if (sizeBytes == 0)
    return nullptr;
  CUdeviceptr ptr = 0;
  run("mgpuMemAlloc", true, [&](CallScope &scope) {
    const Driver &d = scope.driver;
    if (isHostShared)
      return scope.fail("mgpuMemAlloc", MF_STATUS_UNIMPLEMENTED,
                        "host-shared memory (gpu.alloc host_shared) is not "
                        "supported by the mf runtime");
    CUresult result =
        d.asyncAlloc
            ? d.cuMemAllocAsync(&ptr, sizeBytes, static_cast<CUstream>(stream))
            : d.cuMemAlloc(&ptr, sizeBytes);
    if (result)
      scope.fail(d.asyncAlloc ? "cuMemAllocAsync" : "cuMemAlloc", result,
                 concat(sizeBytes, " bytes"));
  });
  return reinterpret_cast<void *>(static_cast<uintptr_t>(ptr));
}

void mgpuMemFree(void *ptr, void *stream) {
  if (!ptr)
    return;
  run("mgpuMemFree", false, [&](CallScope &scope) {
    const Driver &d = scope.driver;
    CUresult result =
        d.asyncAlloc
            ? d.cuMemFreeAsync(devicePtr(ptr), static_cast<CUstream>(stream))
            : d.cuMemFree(devicePtr(ptr));
    if (result)
      scope.fail(d.asyncAlloc ? "cuMemFreeAsync" : "cuMemFree", result, "");
  });
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream) {
  if (sizeBytes == 0)
    return;
  run("mgpuMemcpy", true, [&](CallScope &scope) {
    if (!dst || !src)
      return scope.fail("mgpuMemcpy", MF_STATUS_INTERNAL,
                        concat("copy of ", sizeBytes, " bytes from ", src,
                               " to ", dst));
    if (CUresult result =
            scope.driver.cuMemcpyAsync(devicePtr(dst), devicePtr(src),
                                       sizeBytes, static_cast<CUstream>(stream)))
      scope.fail("cuMemcpyAsync", result,
                 concat(sizeBytes, " bytes from ", src, " to ", dst));
  });
}

void mgpuMemset32(void *dst, int value, size_t count, void *stream) {
  if (count == 0)
    return;
  run("mgpuMemset32", true, [&](CallScope &scope) {
    if (!dst)
      return scope.fail("mgpuMemset32", MF_STATUS_INTERNAL,
                        "the destination is NULL");
    if (CUresult result = scope.driver.cuMemsetD32Async(
            devicePtr(dst), static_cast<unsigned>(value), count,
            static_cast<CUstream>(stream)))
      scope.fail("cuMemsetD32Async", result,
                 concat(count, " words at ", dst));
  });
}

void mgpuMemset16(void *dst, int shortValue, size_t count, void *stream) {
  if (count == 0)
    return;
  run("mgpuMemset16", true, [&](CallScope &scope) {
    if (!dst)
      return scope.fail("mgpuMemset16", MF_STATUS_INTERNAL,
                        "the destination is NULL");
    if (CUresult result = scope.driver.cuMemsetD16Async(
            devicePtr(dst), static_cast<unsigned short>(shortValue), count,
            static_cast<CUstream>(stream)))
      scope.fail("cuMemsetD16Async", result,
                 concat(count, " half-words at ", dst));
  });
}

void *mgpuEventCreate() {
  CUevent event = nullptr;
  run("mgpuEventCreate", true, [&](CallScope &scope) {
    if (CUresult result =
            scope.driver.cuEventCreate(&event, CU_EVENT_DISABLE_TIMING))
      scope.fail("cuEventCreate", result, "");
  });
  return event;
}

void mgpuEventDestroy(void *event) {
  if (!event)
    return;
  run("mgpuEventDestroy", false, [&](CallScope &scope) {
    if (CUresult result =
            scope.driver.cuEventDestroy(static_cast<CUevent>(event)))
      scope.fail("cuEventDestroy", result, "");
  });
}

void mgpuEventSynchronize(void *event) {
  run("mgpuEventSynchronize", true, [&](CallScope &scope) {
    if (CUresult result =
            scope.driver.cuEventSynchronize(static_cast<CUevent>(event)))
      scope.fail("cuEventSynchronize", result, "");
  });
}

void mgpuEventRecord(void *event, void *stream) {
  run("mgpuEventRecord", true, [&](CallScope &scope) {
    if (CUresult result = scope.driver.cuEventRecord(
            static_cast<CUevent>(event), static_cast<CUstream>(stream)))
      scope.fail("cuEventRecord", result, "");
  });
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  run("mgpuStreamWaitEvent", true, [&](CallScope &scope) {
    if (CUresult result = scope.driver.cuStreamWaitEvent(
            static_cast<CUstream>(stream), static_cast<CUevent>(event), 0))
      scope.fail("cuStreamWaitEvent", result, "");
  });
}

void mgpuSetDefaultDevice(int32_t device) {
  run("mgpuSetDefaultDevice", true, [&](CallScope &scope) {
    // The runtime runs on one device; code asking for another would run
    // its kernels on memory of the wrong one.
    if (device != scope.driver.ordinal)
      scope.fail("mgpuSetDefaultDevice", MF_STATUS_FAILED_PRECONDITION,
                 concat("the code asks for CUDA device ", device,
                        " but the runtime runs on device ",
                        scope.driver.ordinal, " (MF_CUDA_DEVICE)"));
  });
}

} // namespace

const mgpu::Functions &mgpu::cudaFunctions() {
  static const Functions functions = {
      mgpuModuleLoad,       mgpuModuleUnload,      mgpuModuleGetFunction,
      mgpuStreamCreate,     mgpuStreamSynchronize, mgpuStreamDestroy,
      mgpuLaunchKernel,     mgpuMemAlloc,          mgpuMemFree,
      mgpuMemcpy,           mgpuMemset32,          mgpuMemset16,
      mgpuEventCreate,      mgpuEventDestroy,      mgpuEventSynchronize,
      mgpuEventRecord,      mgpuStreamWaitEvent,   mgpuSetDefaultDevice,
  };
  return functions;
}
