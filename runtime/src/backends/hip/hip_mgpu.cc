//===- hip_mgpu.cc - The mgpu* functions of rocm host code ----------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The HIP implementation of the mgpu* functions host code calls, with the
// behaviour of upstream MLIR's RocmRuntimeWrappers.cpp (exported by
// ../mgpu.cc, which routes each call to the backend of the thread's scope).
//
// A call from outside any CallScope of this backend only gets here when no
// CUDA backend is built (../mgpu.cc); it runs with the runtime's device made
// current for its duration, and its errors are dropped, as there is no one
// to report them to.
//
//===----------------------------------------------------------------------===//

#include "hip_mgpu.h"

#include "../../status.h"

#include <cstdint>

using namespace mf::rt;
using namespace mf::rt::hip;

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
    const Runtime *runtime = nullptr;
    if (mf_status_t status = getRuntime(runtime)) {
      mf_status_free(status);
      return;
    }
    DeviceScope device;
    if (mf_status_t status = device.enter(*runtime)) {
      mf_status_free(status);
      return;
    }
    CallScope scope(*runtime);
    body(scope);
  } catch (...) {
    // Only allocation can throw here.
    if (CallScope *scope = activeScope)
      scope->fail(call, MF_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
}

/// Names `function` for an error message.
const char *kernelName(const CallScope &scope, hipFunction_t function) {
  if (function && function == scope.lastFunction && scope.lastFunctionName)
    return scope.lastFunctionName;
  return "<unknown>";
}

} // namespace

//===----------------------------------------------------------------------===//
// CallScope
//===----------------------------------------------------------------------===//

CallScope::CallScope(const Runtime &runtime)
    : runtime(runtime), hasStream(false), stream(nullptr),
      dispatch(mgpu::hipFunctions()), previous(activeScope) {
  activeScope = this;
}

CallScope::CallScope(const Runtime &runtime, hipStream_t stream)
    : runtime(runtime), hasStream(true), stream(stream),
      dispatch(mgpu::hipFunctions()), previous(activeScope) {
  activeScope = this;
}

CallScope::~CallScope() { activeScope = previous; }

mf_status_t CallScope::status(const std::string &prefix) const {
  if (!failedCall)
    return nullptr;
  if (hasError)
    return annotateStatus(
        MF_HIP_CALL_FAILED(runtime, failedCall, error, detail), prefix);
  return makeStatus(code, __FILE__, __LINE__,
                    concat(prefix, failedCall, ": ", detail));
}

void CallScope::fail(const char *call, hipError_t result,
                     std::string text) noexcept {
  if (failedCall)
    return;
  failedCall = call;
  hasError = true;
  error = result;
  detail = std::move(text);
}

void CallScope::fail(const char *call, mf_status_code_t result,
                     std::string text) noexcept {
  if (failedCall)
    return;
  failedCall = call;
  code = result;
  detail = std::move(text);
}

//===----------------------------------------------------------------------===//
// The mgpu* functions
//===----------------------------------------------------------------------===//

// Named as upstream's, private to this file (../mgpu.cc exports them).
namespace {

void *mgpuModuleLoad(void *data, uint64_t size) {
  hipModule_t module = nullptr;
  run("mgpuModuleLoad", true, [&](CallScope &scope) {
    if (hipError_t result = scope.runtime.hipModuleLoadData(&module, data))
      scope.fail("hipModuleLoadData", result,
                 concat("mgpuModuleLoad of a ", size, "-byte code object"));
  });
  return module;
}

void mgpuModuleUnload(void *module) {
  if (!module)
    return; // Its load failed, and that was reported.
  run("mgpuModuleUnload", false, [&](CallScope &scope) {
    if (hipError_t result =
            scope.runtime.hipModuleUnload(static_cast<hipModule_t>(module)))
      scope.fail("hipModuleUnload", result, "");
  });
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  hipFunction_t function = nullptr;
  run("mgpuModuleGetFunction", true, [&](CallScope &scope) {
    if (!module)
      return scope.fail("mgpuModuleGetFunction", MF_STATUS_INTERNAL,
                        concat("kernel ", name, ": its module is NULL"));
    if (hipError_t result = scope.runtime.hipModuleGetFunction(
            &function, static_cast<hipModule_t>(module), name))
      return scope.fail("hipModuleGetFunction", result,
                        concat("kernel ", name));
    scope.lastFunction = function;
    scope.lastFunctionName = name;
  });
  return function;
}

void *mgpuStreamCreate() {
  hipStream_t stream = nullptr;
  run("mgpuStreamCreate", true, [&](CallScope &scope) {
    if (scope.hasStream) {
      stream = scope.stream;
      return;
    }
    if (hipError_t result = scope.runtime.hipStreamCreateWithFlags(
            &stream, hipStreamNonBlocking))
      scope.fail("hipStreamCreateWithFlags", result, "");
  });
  return stream;
}

void mgpuStreamSynchronize(void *stream) {
  run("mgpuStreamSynchronize", true, [&](CallScope &scope) {
    auto hipStream = static_cast<hipStream_t>(stream);
    // The caller's stream: its work stays queued behind what came before.
    if (scope.hasStream && hipStream == scope.stream)
      return;
    if (hipError_t result = scope.runtime.hipStreamSynchronize(hipStream))
      scope.fail("hipStreamSynchronize", result, "");
  });
}

void mgpuStreamDestroy(void *stream) {
  run("mgpuStreamDestroy", false, [&](CallScope &scope) {
    auto hipStream = static_cast<hipStream_t>(stream);
    if (!hipStream || (scope.hasStream && hipStream == scope.stream))
      return;
    if (hipError_t result = scope.runtime.hipStreamDestroy(hipStream))
      scope.fail("hipStreamDestroy", result, "");
  });
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount) {
  (void)paramsCount; // The code object describes the kernel's parameters.
  run("mgpuLaunchKernel", true, [&](CallScope &scope) {
    auto hipFunction = static_cast<hipFunction_t>(function);
    auto describe = [&] {
      return concat("kernel ", kernelName(scope, hipFunction), ", grid ", gridX,
                    "x", gridY, "x", gridZ, ", block ", blockX, "x", blockY,
                    "x", blockZ, ", ", smem, " bytes shared");
    };
    if (!hipFunction)
      return scope.fail("mgpuLaunchKernel", MF_STATUS_INTERNAL,
                        "the function is NULL (" + describe() + ")");
    for (intptr_t extent : {gridX, gridY, gridZ, blockX, blockY, blockZ})
      if (extent < 1 || static_cast<uintptr_t>(extent) > UINT32_MAX)
        return scope.fail("mgpuLaunchKernel", MF_STATUS_INTERNAL,
                          "launch dims out of range (" + describe() + ")");
    if (smem < 0)
      return scope.fail("mgpuLaunchKernel", MF_STATUS_INTERNAL,
                        "negative shared memory size (" + describe() + ")");
    // Unlike CUDA there is no opt-in for large dynamic LDS: a workgroup may
    // use all of it (64 KiB on gfx90a/gfx942), and the launch fails beyond.
    if (hipError_t result = scope.runtime.hipModuleLaunchKernel(
            hipFunction, static_cast<unsigned>(gridX),
            static_cast<unsigned>(gridY), static_cast<unsigned>(gridZ),
            static_cast<unsigned>(blockX), static_cast<unsigned>(blockY),
            static_cast<unsigned>(blockZ), static_cast<unsigned>(smem),
            static_cast<hipStream_t>(stream), params, extra))
      scope.fail("hipModuleLaunchKernel", result, describe());
  });
}

void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared) {
  if (sizeBytes == 0)
    return nullptr;
  void *ptr = nullptr;
  run("mgpuMemAlloc", true, [&](CallScope &scope) {
    const Runtime &r = scope.runtime;
    if (isHostShared)
      return scope.fail("mgpuMemAlloc", MF_STATUS_UNIMPLEMENTED,
                        "host-shared memory (gpu.alloc host_shared) is not "
                        "supported by the mf runtime");
    if (r.asyncAlloc.load(std::memory_order_relaxed)) {
      hipError_t result =
          r.hipMallocAsync(&ptr, sizeBytes, static_cast<hipStream_t>(stream));
      if (result != hipErrorNotSupported) {
        if (result)
          scope.fail("hipMallocAsync", result, concat(sizeBytes, " bytes"));
        return;
      }
      // The device has no memory pools: allocate synchronously from now on
      // (nothing was allocated asynchronously, so frees stay matched).
      r.asyncAlloc.store(false, std::memory_order_relaxed);
    }
    if (hipError_t result = r.hipMalloc(&ptr, sizeBytes))
      scope.fail("hipMalloc", result, concat(sizeBytes, " bytes"));
  });
  return ptr;
}

void mgpuMemFree(void *ptr, void *stream) {
  if (!ptr)
    return;
  run("mgpuMemFree", false, [&](CallScope &scope) {
    const Runtime &r = scope.runtime;
    bool async = r.asyncAlloc.load(std::memory_order_relaxed);
    hipError_t result =
        async ? r.hipFreeAsync(ptr, static_cast<hipStream_t>(stream))
              : r.hipFree(ptr);
    if (result)
      scope.fail(async ? "hipFreeAsync" : "hipFree", result, "");
  });
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream) {
  if (sizeBytes == 0)
    return;
  run("mgpuMemcpy", true, [&](CallScope &scope) {
    if (!dst || !src)
      return scope.fail(
          "mgpuMemcpy", MF_STATUS_INTERNAL,
          concat("copy of ", sizeBytes, " bytes from ", src, " to ", dst));
    if (hipError_t result =
            scope.runtime.hipMemcpyAsync(dst, src, sizeBytes, hipMemcpyDefault,
                                         static_cast<hipStream_t>(stream)))
      scope.fail("hipMemcpyAsync", result,
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
    if (hipError_t result = scope.runtime.hipMemsetD32Async(
            dst, value, count, static_cast<hipStream_t>(stream)))
      scope.fail("hipMemsetD32Async", result, concat(count, " words at ", dst));
  });
}

void mgpuMemset16(void *dst, int shortValue, size_t count, void *stream) {
  if (count == 0)
    return;
  run("mgpuMemset16", true, [&](CallScope &scope) {
    if (!dst)
      return scope.fail("mgpuMemset16", MF_STATUS_INTERNAL,
                        "the destination is NULL");
    if (hipError_t result = scope.runtime.hipMemsetD16Async(
            dst, static_cast<unsigned short>(shortValue), count,
            static_cast<hipStream_t>(stream)))
      scope.fail("hipMemsetD16Async", result,
                 concat(count, " half-words at ", dst));
  });
}

void *mgpuEventCreate() {
  hipEvent_t event = nullptr;
  run("mgpuEventCreate", true, [&](CallScope &scope) {
    if (hipError_t result = scope.runtime.hipEventCreateWithFlags(
            &event, hipEventDisableTiming))
      scope.fail("hipEventCreateWithFlags", result, "");
  });
  return event;
}

void mgpuEventDestroy(void *event) {
  if (!event)
    return;
  run("mgpuEventDestroy", false, [&](CallScope &scope) {
    if (hipError_t result =
            scope.runtime.hipEventDestroy(static_cast<hipEvent_t>(event)))
      scope.fail("hipEventDestroy", result, "");
  });
}

void mgpuEventSynchronize(void *event) {
  run("mgpuEventSynchronize", true, [&](CallScope &scope) {
    if (hipError_t result =
            scope.runtime.hipEventSynchronize(static_cast<hipEvent_t>(event)))
      scope.fail("hipEventSynchronize", result, "");
  });
}

void mgpuEventRecord(void *event, void *stream) {
  run("mgpuEventRecord", true, [&](CallScope &scope) {
    if (hipError_t result = scope.runtime.hipEventRecord(
            static_cast<hipEvent_t>(event), static_cast<hipStream_t>(stream)))
      scope.fail("hipEventRecord", result, "");
  });
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  run("mgpuStreamWaitEvent", true, [&](CallScope &scope) {
    if (hipError_t result =
            scope.runtime.hipStreamWaitEvent(static_cast<hipStream_t>(stream),
                                             static_cast<hipEvent_t>(event), 0))
      scope.fail("hipStreamWaitEvent", result, "");
  });
}

void mgpuSetDefaultDevice(int32_t device) {
  run("mgpuSetDefaultDevice", true, [&](CallScope &scope) {
    // The runtime runs on one device; code asking for another would run
    // its kernels on memory of the wrong one.
    if (device != scope.runtime.ordinal)
      scope.fail("mgpuSetDefaultDevice", MF_STATUS_FAILED_PRECONDITION,
                 concat("the code asks for HIP device ", device,
                        " but the runtime runs on device ",
                        scope.runtime.ordinal, " (MF_HIP_DEVICE)"));
  });
}

} // namespace

const mgpu::Functions &mgpu::hipFunctions() {
  static const Functions functions = {
      mgpuModuleLoad,   mgpuModuleUnload,      mgpuModuleGetFunction,
      mgpuStreamCreate, mgpuStreamSynchronize, mgpuStreamDestroy,
      mgpuLaunchKernel, mgpuMemAlloc,          mgpuMemFree,
      mgpuMemcpy,       mgpuMemset32,          mgpuMemset16,
      mgpuEventCreate,  mgpuEventDestroy,      mgpuEventSynchronize,
      mgpuEventRecord,  mgpuStreamWaitEvent,   mgpuSetDefaultDevice,
  };
  return functions;
}
