//===- hip_runtime.cc - The HIP runtime API, loaded at run time -----------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The library is opened RTLD_LOCAL and never closed: compiled code may still
// call it from static destructors.
//
//===----------------------------------------------------------------------===//

#include "hip_runtime.h"

#include "../../status.h"

#include <cerrno>
#include <cstdlib>
#include <dlfcn.h>
#include <vector>

using namespace mf::rt;
using namespace mf::rt::hip;

namespace {

/// The runtime, or why there is none.
struct RuntimeState {
  Runtime runtime = {};
  mf_status_code_t code = MF_STATUS_OK;
  std::string error;
};

/// Resolves `symbol` into `slot`; false if the library lacks it.
template <typename Fn>
bool resolve(void *library, const char *symbol, Fn &slot) {
  slot = reinterpret_cast<Fn>(::dlsym(library, symbol));
  return slot != nullptr;
}

/// Opens `name`; returns the handle, or NULL with `error` set.
void *openLibrary(const std::string &name, std::string &error) {
  void *library = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *message = ::dlerror();
    error = message ? message : "unknown dlopen error";
    // dlerror usually starts with the name already.
    if (error.find(name) == std::string::npos)
      error = name + ": " + error;
  }
  return library;
}

/// Opens the library and resolves its functions; returns an error message,
/// or "" on success.
std::string openRuntime(Runtime &r) {
  const char *override = std::getenv("MF_HIP_RUNTIME_LIBRARY");
  void *library = nullptr;
  if (override && *override) {
    r.library = override;
    std::string error;
    library = openLibrary(r.library, error);
    if (!library)
      return "cannot load the HIP runtime (" + error +
             ") (from MF_HIP_RUNTIME_LIBRARY)";
  } else {
    // ROCm 6, then 5, then an unversioned development link. A library that
    // exists but fails to load (a missing dependency) says more than the
    // names that do not exist, so its error is the one reported.
    std::string brokenError, missingError;
    for (const char *name :
         {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"}) {
      std::string error;
      library = openLibrary(name, error);
      if (library) {
        r.library = name;
        break;
      }
      if (error.find("No such file") != std::string::npos)
        missingError = error;
      else if (brokenError.empty())
        brokenError = error;
    }
    std::string reported = brokenError.empty() ? missingError : brokenError;
    if (!library)
      return "cannot load the HIP runtime (" + reported +
             "; also tried libamdhip64.so.6 and libamdhip64.so.5; "
             "MF_HIP_RUNTIME_LIBRARY may name another)";
  }
  std::string missing;
  auto require = [&](const char *symbol, auto &slot) {
    if (!resolve(library, symbol, slot))
      missing += (missing.empty() ? "" : ", ") + std::string(symbol);
  };
  require("hipGetErrorName", r.hipGetErrorName);
  require("hipInit", r.hipInit);
  require("hipRuntimeGetVersion", r.hipRuntimeGetVersion);
  require("hipGetDeviceCount", r.hipGetDeviceCount);
  require("hipGetDevice", r.hipGetDevice);
  require("hipSetDevice", r.hipSetDevice);
  require("hipDeviceSynchronize", r.hipDeviceSynchronize);
  require("hipModuleLoadData", r.hipModuleLoadData);
  require("hipModuleUnload", r.hipModuleUnload);
  require("hipModuleGetFunction", r.hipModuleGetFunction);
  require("hipModuleLaunchKernel", r.hipModuleLaunchKernel);
  require("hipStreamCreateWithFlags", r.hipStreamCreateWithFlags);
  require("hipStreamSynchronize", r.hipStreamSynchronize);
  require("hipStreamDestroy", r.hipStreamDestroy);
  require("hipStreamWaitEvent", r.hipStreamWaitEvent);
  require("hipEventCreateWithFlags", r.hipEventCreateWithFlags);
  require("hipEventRecord", r.hipEventRecord);
  require("hipEventSynchronize", r.hipEventSynchronize);
  require("hipEventDestroy", r.hipEventDestroy);
  require("hipMalloc", r.hipMalloc);
  require("hipFree", r.hipFree);
  require("hipMemcpy", r.hipMemcpy);
  require("hipMemcpyAsync", r.hipMemcpyAsync);
  require("hipMemsetD32Async", r.hipMemsetD32Async);
  require("hipMemsetD16Async", r.hipMemsetD16Async);
  require("hipPointerGetAttributes", r.hipPointerGetAttributes);
  if (!missing.empty())
    return "the HIP runtime " + r.library + " lacks " + missing;
  resolve(library, "hipMallocAsync", r.hipMallocAsync);
  resolve(library, "hipFreeAsync", r.hipFreeAsync);
  return "";
}

/// Loads the runtime and picks the device.
const RuntimeState *initialize() {
  auto *state = new RuntimeState;
  Runtime &r = state->runtime;
  auto fail = [&](mf_status_code_t code, std::string error) {
    state->code = code;
    state->error = "HIP backend: " + std::move(error);
    return state;
  };
  std::string error = openRuntime(r);
  if (!error.empty())
    return fail(MF_STATUS_UNAVAILABLE, error);
  auto failedCall = [&](const char *call, hipError_t result) {
    return fail(MF_STATUS_UNAVAILABLE,
                concat(call, " failed: ", errorName(r, result)));
  };
  if (hipError_t result = r.hipInit(0))
    return failedCall("hipInit", result);
  if (hipError_t result = r.hipRuntimeGetVersion(&r.version))
    return failedCall("hipRuntimeGetVersion", result);

  if (const char *text = std::getenv("MF_HIP_DEVICE"); text && *text) {
    char *end = nullptr;
    errno = 0;
    long ordinal = std::strtol(text, &end, 10);
    if (errno || *end || ordinal < 0 || ordinal > 1 << 20)
      return fail(MF_STATUS_INVALID_ARGUMENT,
                  concat("MF_HIP_DEVICE='", text, "' is not a device ordinal"));
    r.ordinal = static_cast<int>(ordinal);
  }
  int count = 0;
  if (hipError_t result = r.hipGetDeviceCount(&count))
    return failedCall("hipGetDeviceCount", result);
  if (r.ordinal >= count)
    return fail(
        MF_STATUS_UNAVAILABLE,
        concat("there is no HIP device ", r.ordinal, " (", count, " devices",
               std::getenv("MF_HIP_DEVICE") ? "; MF_HIP_DEVICE" : "", ")"));
  // Stream-ordered allocation keeps the compiled code's temporaries from
  // synchronizing the device. Whether the device supports it shows at the
  // first allocation (hip_mgpu.cc), as the attribute that says so has no
  // stable value across ROCm versions.
  r.asyncAlloc = r.hipMallocAsync && r.hipFreeAsync;
  return state;
}

} // namespace

MemoryKind Runtime::memoryKindOf(int type) const {
  if (version >= 60000000) {
    switch (type) {
    case 0:
      return MemoryKind::Unregistered;
    case 1:
      return MemoryKind::Host;
    case 2:
      return MemoryKind::Device;
    case 3:
      return MemoryKind::Managed;
    default:
      return MemoryKind::Other;
    }
  }
  // ROCm 5: Host 0, Device 1, Array 2, Unified 3 (managed memory is
  // reported as Unified, or through isManaged).
  switch (type) {
  case 0:
    return MemoryKind::Host;
  case 1:
    return MemoryKind::Device;
  case 3:
    return MemoryKind::Managed;
  default:
    return MemoryKind::Other;
  }
}

mf_status_t hip::getRuntime(const Runtime *&out,
                            const std::string &unavailableSuffix) {
  // Never destroyed: compiled code may call the runtime during static
  // destruction.
  static const RuntimeState *state = initialize();
  if (state->code == MF_STATUS_OK) {
    out = &state->runtime;
    return nullptr;
  }
  return makeStatus(state->code, __FILE__, __LINE__,
                    state->code == MF_STATUS_UNAVAILABLE
                        ? state->error + unavailableSuffix
                        : state->error);
}

std::string hip::errorName(const Runtime &runtime, hipError_t error) {
  const char *name = runtime.hipGetErrorName(error);
  if (name && *name)
    return name;
  return concat("HIP error ", error);
}

mf_status_code_t hip::statusCodeOf(hipError_t error) {
  switch (error) {
  case hipErrorOutOfMemory:
    return MF_STATUS_RESOURCE_EXHAUSTED;
  case hipErrorNotInitialized:
  case hipErrorDeinitialized:
  case hipErrorNoDevice:
  case hipErrorInvalidDevice:
    return MF_STATUS_UNAVAILABLE;
  default:
    break;
  }
  return MF_STATUS_UNKNOWN;
}

mf_status_t hip::callFailed(const Runtime &runtime, const char *call,
                            hipError_t error, const std::string &detail,
                            const char *file, int line) {
  return makeStatus(statusCodeOf(error), file, line,
                    concat(call, " failed: ", errorName(runtime, error),
                           detail.empty() ? "" : " (", detail,
                           detail.empty() ? "" : ")"));
}

DeviceScope::~DeviceScope() {
  if (runtime)
    runtime->hipSetDevice(previous);
}

mf_status_t DeviceScope::enter(const Runtime &r) {
  int current = 0;
  if (hipError_t result = r.hipGetDevice(&current))
    return MF_HIP_CALL_FAILED(r, "hipGetDevice", result, "");
  if (current == r.ordinal)
    return nullptr;
  if (hipError_t result = r.hipSetDevice(r.ordinal))
    return MF_HIP_CALL_FAILED(r, "hipSetDevice", result,
                              concat("device ", r.ordinal));
  runtime = &r;
  previous = current;
  return nullptr;
}
