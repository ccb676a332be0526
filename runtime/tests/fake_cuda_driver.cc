//===- fake_cuda_driver.cc - A CUDA driver stand-in for the tests ---------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The driver API calls the runtime makes, over host memory: "device"
// allocations are host blocks, copies and memsets are performed, kernels
// are recorded instead of run. It checks what a real driver would refuse
// (no cuInit, no current context, unknown handles, out-of-range copies,
// too much shared memory without the opt-in), so the tests catch those.
// See fake_cuda_driver.h for the inspection functions.
//
//===----------------------------------------------------------------------===//

#include "fake_cuda_driver.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

// The handle types as cuda.h declares them (UBSan checks that callers use
// the same function types).
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUmemPoolHandle_st;

namespace {

using CUresult = int;
using CUdeviceptr = uint64_t;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
using CUmemoryPool = CUmemPoolHandle_st *;

constexpr CUresult kSuccess = 0;
constexpr CUresult kInvalidValue = 1;
constexpr CUresult kNotInitialized = 3;
constexpr CUresult kInvalidDevice = 101;
constexpr CUresult kInvalidImage = 200;
constexpr CUresult kInvalidContext = 201;
constexpr CUresult kInvalidHandle = 400;
constexpr CUresult kNotFound = 500;

struct Function {
  std::string name;
  int numParams = 0;
  std::map<int, int> attributes;
};

struct Module {
  std::vector<std::unique_ptr<Function>> functions;
};

struct Allocation {
  size_t size = 0;
  int ordinal = 0;
};

struct State {
  std::mutex mutex;
  bool initialized = false;
  uint64_t poolReleaseThreshold = 0;
  std::string calls;
  std::map<std::string, int> counts;
  std::map<std::string, CUresult> failures;
  std::map<std::string, void *> lastStreams;
  std::vector<mf_fake_launch_t> launches;
  std::map<uintptr_t, Allocation> allocations;
  std::set<Module *> modules;
  std::set<void *> streams, events;
};

State &state() {
  static State *s = new State;
  return *s;
}

int primaryContextObject;
void *const kPrimaryContext = &primaryContextObject;
thread_local void *currentContext = nullptr;

/// Adds the failures in $MF_FAKE_CUDA_FAIL ("name=result,...").
void readFailuresFromEnvironment(State &s) {
  const char *text = std::getenv("MF_FAKE_CUDA_FAIL");
  if (!text)
    return;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    size_t eq = item.find('=');
    if (eq != std::string::npos)
      s.failures[item.substr(0, eq)] = std::atoi(item.c_str() + eq + 1);
  }
}

/// Every call starts with one: records the call, holds the lock, and says
/// whether the call must fail (injected, or a precondition of the driver).
class Call {
public:
  Call(const char *name, bool needsContext = true)
      : s(state()), lock(s.mutex), name(name) {
    s.calls += name;
    s.calls += ' ';
    ++s.counts[name];
    auto it = s.failures.find(name);
    if (it != s.failures.end() && it->second)
      result = it->second;
    else if (needsContext && !s.initialized)
      result = kNotInitialized;
    else if (needsContext && currentContext != kPrimaryContext)
      result = kInvalidContext;
  }

  /// Notes the stream the call was given.
  void onStream(void *stream) { s.lastStreams[name] = stream; }

  State &s;
  std::lock_guard<std::mutex> lock;
  const char *name;
  CUresult result = kSuccess;
};

/// The allocation holding [ptr, ptr + size), or NULL.
Allocation *findAllocation(State &s, uintptr_t ptr, size_t size) {
  auto it = s.allocations.upper_bound(ptr);
  if (it == s.allocations.begin())
    return nullptr;
  --it;
  if (ptr + size > it->first + it->second.size)
    return nullptr;
  return &it->second;
}

Function *findFunction(State &s, void *handle) {
  for (Module *module : s.modules)
    for (auto &function : module->functions)
      if (function.get() == handle)
        return function.get();
  return nullptr;
}

CUresult allocate(State &s, CUdeviceptr *out, size_t size) {
  if (size == 0)
    return kInvalidValue;
  void *block = std::aligned_alloc(256, (size + 255) / 256 * 256);
  if (!block)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  s.allocations[reinterpret_cast<uintptr_t>(block)] = {size, 0};
  *out = reinterpret_cast<uintptr_t>(block);
  return kSuccess;
}

CUresult release(State &s, CUdeviceptr ptr) {
  auto it = s.allocations.find(ptr);
  if (it == s.allocations.end())
    return kInvalidValue;
  std::free(reinterpret_cast<void *>(it->first));
  s.allocations.erase(it);
  return kSuccess;
}

/// A copy within device memory (either end may also be host memory where
/// the real driver takes unified addresses: `dstDevice`/`srcDevice` false).
CUresult copy(State &s, uintptr_t dst, bool dstDevice, uintptr_t src,
              bool srcDevice, size_t size) {
  if ((dstDevice && !findAllocation(s, dst, size)) ||
      (srcDevice && !findAllocation(s, src, size)))
    return kInvalidValue;
  std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src),
               size);
  return kSuccess;
}

/// Sets up failures from the environment when the library is loaded.
[[maybe_unused]] const bool kReadEnvironment = [] {
  readFailuresFromEnvironment(state());
  return true;
}();

} // namespace

//===----------------------------------------------------------------------===//
// Inspection
//===----------------------------------------------------------------------===//

FAKE_EXPORT void mf_fake_cuda_reset(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.calls.clear();
  s.counts.clear();
  s.failures.clear();
  s.lastStreams.clear();
  s.launches.clear();
  for (auto &allocation : s.allocations)
    std::free(reinterpret_cast<void *>(allocation.first));
  s.allocations.clear();
  readFailuresFromEnvironment(s);
}

FAKE_EXPORT void mf_fake_cuda_fail(const char *call, int result) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.failures[call] = result;
}

FAKE_EXPORT const char *mf_fake_cuda_calls(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.calls.c_str();
}

FAKE_EXPORT int mf_fake_cuda_count(const char *call) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.counts.find(call);
  return it == s.counts.end() ? 0 : it->second;
}

FAKE_EXPORT int mf_fake_cuda_launch_count(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<int>(s.launches.size());
}

FAKE_EXPORT int mf_fake_cuda_launch(int index, mf_fake_launch_t *out) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (index < 0 || static_cast<size_t>(index) >= s.launches.size())
    return 0;
  *out = s.launches[index];
  return 1;
}

FAKE_EXPORT int mf_fake_cuda_live_allocations(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<int>(s.allocations.size());
}

FAKE_EXPORT void *mf_fake_cuda_last_stream(const char *call) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.lastStreams.find(call);
  return it == s.lastStreams.end() ? nullptr : it->second;
}

FAKE_EXPORT int mf_fake_cuda_set_pointer_device(void *ptr, int ordinal) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  Allocation *allocation =
      findAllocation(s, reinterpret_cast<uintptr_t>(ptr), 1);
  if (!allocation)
    return 0;
  allocation->ordinal = ordinal;
  return 1;
}

FAKE_EXPORT int mf_fake_cuda_func_attribute(const char *kernel,
                                            int attribute) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (Module *module : s.modules)
    for (auto &function : module->functions)
      if (function->name == kernel) {
        auto it = function->attributes.find(attribute);
        return it == function->attributes.end() ? -1 : it->second;
      }
  return -1;
}

FAKE_EXPORT void *mf_fake_cuda_primary_context(void) {
  return kPrimaryContext;
}

FAKE_EXPORT uint64_t mf_fake_cuda_pool_release_threshold(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.poolReleaseThreshold;
}

//===----------------------------------------------------------------------===//
// The driver API
//===----------------------------------------------------------------------===//

FAKE_EXPORT CUresult cuGetErrorName(CUresult error, const char **name) {
  static const std::map<CUresult, const char *> names = {
      {0, "CUDA_SUCCESS"},
      {1, "CUDA_ERROR_INVALID_VALUE"},
      {2, "CUDA_ERROR_OUT_OF_MEMORY"},
      {3, "CUDA_ERROR_NOT_INITIALIZED"},
      {100, "CUDA_ERROR_NO_DEVICE"},
      {101, "CUDA_ERROR_INVALID_DEVICE"},
      {200, "CUDA_ERROR_INVALID_IMAGE"},
      {201, "CUDA_ERROR_INVALID_CONTEXT"},
      {400, "CUDA_ERROR_INVALID_HANDLE"},
      {500, "CUDA_ERROR_NOT_FOUND"},
      {700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
  };
  auto it = names.find(error);
  if (it == names.end()) {
    *name = nullptr;
    return kInvalidValue;
  }
  *name = it->second;
  return kSuccess;
}

FAKE_EXPORT CUresult cuInit(unsigned flags) {
  Call call("cuInit", false);
  if (call.result)
    return call.result;
  if (flags != 0)
    return kInvalidValue;
  call.s.initialized = true;
  return kSuccess;
}

FAKE_EXPORT CUresult cuDeviceGetCount(int *count) {
  Call call("cuDeviceGetCount", false);
  if (call.result)
    return call.result;
  if (!call.s.initialized)
    return kNotInitialized;
  *count = 1;
  return kSuccess;
}

FAKE_EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  Call call("cuDeviceGet", false);
  if (call.result)
    return call.result;
  if (ordinal != 0)
    return kInvalidDevice;
  *device = 0;
  return kSuccess;
}

FAKE_EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute,
                                          int device) {
  Call call("cuDeviceGetAttribute", false);
  if (call.result)
    return call.result;
  if (device != 0)
    return kInvalidDevice;
  *value = attribute == 115 ? 1 : 0; // Memory pools are supported.
  return kSuccess;
}

FAKE_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *context, int device) {
  Call call("cuDevicePrimaryCtxRetain", false);
  if (call.result)
    return call.result;
  if (device != 0)
    return kInvalidDevice;
  *context = static_cast<CUcontext>(kPrimaryContext);
  return kSuccess;
}

FAKE_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  Call call("cuDevicePrimaryCtxRelease_v2", false);
  return call.result ? call.result : device == 0 ? kSuccess : kInvalidDevice;
}

FAKE_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  Call call("cuCtxSetCurrent", false);
  if (call.result)
    return call.result;
  currentContext = context;
  return kSuccess;
}

FAKE_EXPORT CUresult cuCtxGetCurrent(CUcontext *context) {
  Call call("cuCtxGetCurrent", false);
  if (call.result)
    return call.result;
  *context = static_cast<CUcontext>(currentContext);
  return kSuccess;
}

FAKE_EXPORT CUresult cuCtxGetDevice(int *device) {
  Call call("cuCtxGetDevice");
  if (call.result)
    return call.result;
  *device = 0;
  return kSuccess;
}

FAKE_EXPORT CUresult cuCtxSynchronize(void) {
  Call call("cuCtxSynchronize");
  return call.result;
}

FAKE_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  Call call("cuModuleLoadData");
  if (call.result)
    return call.result;
  const char *text = static_cast<const char *>(image);
  size_t magic = std::strlen(MF_FAKE_CUBIN_MAGIC);
  if (!text || std::strncmp(text, MF_FAKE_CUBIN_MAGIC, magic) != 0)
    return kInvalidImage;
  auto loaded = std::make_unique<Module>();
  std::istringstream lines(text + magic);
  std::string name;
  int numParams;
  while (lines >> name >> numParams) {
    loaded->functions.push_back(std::make_unique<Function>());
    loaded->functions.back()->name = name;
    loaded->functions.back()->numParams = numParams;
  }
  *module = reinterpret_cast<CUmodule>(loaded.get());
  call.s.modules.insert(loaded.release());
  return kSuccess;
}

FAKE_EXPORT CUresult cuModuleUnload(CUmodule module) {
  Call call("cuModuleUnload");
  if (call.result)
    return call.result;
  auto it = call.s.modules.find(reinterpret_cast<Module *>(module));
  if (it == call.s.modules.end())
    return kInvalidHandle;
  delete *it;
  call.s.modules.erase(it);
  return kSuccess;
}

FAKE_EXPORT CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                                         const char *name) {
  Call call("cuModuleGetFunction");
  if (call.result)
    return call.result;
  auto it = call.s.modules.find(reinterpret_cast<Module *>(module));
  if (it == call.s.modules.end())
    return kInvalidHandle;
  for (auto &candidate : (*it)->functions)
    if (candidate->name == name) {
      *function = reinterpret_cast<CUfunction>(candidate.get());
      return kSuccess;
    }
  return kNotFound;
}

FAKE_EXPORT CUresult cuFuncGetName(const char **name, CUfunction function) {
  Call call("cuFuncGetName", false);
  if (call.result)
    return call.result;
  Function *found = findFunction(call.s, function);
  if (!found)
    return kInvalidHandle;
  *name = found->name.c_str();
  return kSuccess;
}

FAKE_EXPORT CUresult cuFuncSetAttribute(CUfunction function, int attribute,
                                        int value) {
  Call call("cuFuncSetAttribute");
  if (call.result)
    return call.result;
  Function *found = findFunction(call.s, function);
  if (!found)
    return kInvalidHandle;
  found->attributes[attribute] = value;
  return kSuccess;
}

FAKE_EXPORT CUresult cuLaunchKernel(CUfunction function, unsigned gridX,
                                    unsigned gridY, unsigned gridZ,
                                    unsigned blockX, unsigned blockY,
                                    unsigned blockZ, unsigned sharedBytes,
                                    CUstream stream, void **params,
                                    void **extra) {
  Call call("cuLaunchKernel");
  call.onStream(stream);
  if (call.result)
    return call.result;
  Function *found = findFunction(call.s, function);
  if (!found)
    return kInvalidHandle;
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ ||
      uint64_t(blockX) * blockY * blockZ > 1024 || extra ||
      (found->numParams > 0 && !params))
    return kInvalidValue;
  auto optIn = found->attributes.find(8);
  if (sharedBytes > 48 * 1024 &&
      (optIn == found->attributes.end() ||
       sharedBytes > static_cast<unsigned>(optIn->second)))
    return kInvalidValue;
  mf_fake_launch_t launch = {};
  std::strncpy(launch.kernel, found->name.c_str(), sizeof(launch.kernel) - 1);
  launch.grid[0] = gridX;
  launch.grid[1] = gridY;
  launch.grid[2] = gridZ;
  launch.block[0] = blockX;
  launch.block[1] = blockY;
  launch.block[2] = blockZ;
  launch.shared_bytes = sharedBytes;
  launch.stream = stream;
  launch.num_params = found->numParams;
  for (int i = 0; i < found->numParams && i < 8; ++i)
    std::memcpy(&launch.params[i], params[i], 8);
  call.s.launches.push_back(launch);
  return kSuccess;
}

FAKE_EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
  Call call("cuStreamCreate");
  if (call.result)
    return call.result;
  (void)flags;
  *stream = reinterpret_cast<CUstream>(new int);
  call.s.streams.insert(*stream);
  return kSuccess;
}

FAKE_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
  Call call("cuStreamSynchronize");
  call.onStream(stream); // Callers' streams are not ours to check.
  return call.result;
}

FAKE_EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
  Call call("cuStreamDestroy_v2");
  if (call.result)
    return call.result;
  if (!call.s.streams.erase(stream))
    return kInvalidHandle;
  delete reinterpret_cast<int *>(stream);
  return kSuccess;
}

FAKE_EXPORT CUresult cuStreamWaitEvent(CUstream stream, CUevent event,
                                       unsigned flags) {
  Call call("cuStreamWaitEvent");
  call.onStream(stream);
  if (call.result)
    return call.result;
  return call.s.events.count(event) && flags == 0 ? kSuccess : kInvalidHandle;
}

FAKE_EXPORT CUresult cuEventCreate(CUevent *event, unsigned flags) {
  Call call("cuEventCreate");
  if (call.result)
    return call.result;
  (void)flags;
  *event = reinterpret_cast<CUevent>(new int);
  call.s.events.insert(*event);
  return kSuccess;
}

FAKE_EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
  Call call("cuEventRecord");
  call.onStream(stream);
  if (call.result)
    return call.result;
  return call.s.events.count(event) ? kSuccess : kInvalidHandle;
}

FAKE_EXPORT CUresult cuEventSynchronize(CUevent event) {
  Call call("cuEventSynchronize");
  if (call.result)
    return call.result;
  return call.s.events.count(event) ? kSuccess : kInvalidHandle;
}

FAKE_EXPORT CUresult cuEventDestroy_v2(CUevent event) {
  Call call("cuEventDestroy_v2");
  if (call.result)
    return call.result;
  if (!call.s.events.erase(event))
    return kInvalidHandle;
  delete reinterpret_cast<int *>(event);
  return kSuccess;
}

FAKE_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t size) {
  Call call("cuMemAlloc_v2");
  return call.result ? call.result : allocate(call.s, ptr, size);
}

FAKE_EXPORT CUresult cuMemFree_v2(CUdeviceptr ptr) {
  Call call("cuMemFree_v2");
  return call.result ? call.result : release(call.s, ptr);
}

FAKE_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *ptr, size_t size,
                                     CUstream stream) {
  Call call("cuMemAllocAsync");
  call.onStream(stream);
  return call.result ? call.result : allocate(call.s, ptr, size);
}

FAKE_EXPORT CUresult cuMemFreeAsync(CUdeviceptr ptr, CUstream stream) {
  Call call("cuMemFreeAsync");
  call.onStream(stream);
  return call.result ? call.result : release(call.s, ptr);
}

FAKE_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src,
                                     size_t size) {
  Call call("cuMemcpyHtoD_v2");
  return call.result ? call.result
                     : copy(call.s, dst, true,
                            reinterpret_cast<uintptr_t>(src), false, size);
}

FAKE_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src,
                                     size_t size) {
  Call call("cuMemcpyDtoH_v2");
  return call.result ? call.result
                     : copy(call.s, reinterpret_cast<uintptr_t>(dst), false,
                            src, true, size);
}

FAKE_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src,
                                     size_t size) {
  Call call("cuMemcpyDtoD_v2");
  return call.result ? call.result : copy(call.s, dst, true, src, true, size);
}

FAKE_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src,
                                   size_t size, CUstream stream) {
  Call call("cuMemcpyAsync");
  call.onStream(stream);
  // Unified addressing: either end may be host memory; the tests' compiled
  // code copies between device buffers only.
  return call.result ? call.result : copy(call.s, dst, true, src, true, size);
}

FAKE_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value,
                                      size_t count, CUstream stream) {
  Call call("cuMemsetD32Async");
  call.onStream(stream);
  if (call.result)
    return call.result;
  if (dst % 4 || !findAllocation(call.s, dst, count * 4))
    return kInvalidValue;
  for (size_t i = 0; i < count; ++i)
    std::memcpy(reinterpret_cast<char *>(dst) + 4 * i, &value, 4);
  return kSuccess;
}

FAKE_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value,
                                      size_t count, CUstream stream) {
  Call call("cuMemsetD16Async");
  call.onStream(stream);
  if (call.result)
    return call.result;
  if (dst % 2 || !findAllocation(call.s, dst, count * 2))
    return kInvalidValue;
  for (size_t i = 0; i < count; ++i)
    std::memcpy(reinterpret_cast<char *>(dst) + 2 * i, &value, 2);
  return kSuccess;
}

namespace {
int defaultPoolObject;
} // namespace

FAKE_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, int device) {
  Call call("cuDeviceGetDefaultMemPool", false);
  if (call.result)
    return call.result;
  if (device != 0)
    return kInvalidDevice;
  *pool = reinterpret_cast<CUmemoryPool>(&defaultPoolObject);
  return kSuccess;
}

FAKE_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, int attribute,
                                           void *value) {
  Call call("cuMemPoolSetAttribute", false);
  if (call.result)
    return call.result;
  if (pool != reinterpret_cast<CUmemoryPool>(&defaultPoolObject) ||
      attribute != 4) // RELEASE_THRESHOLD
    return kInvalidValue;
  std::memcpy(&call.s.poolReleaseThreshold, value, sizeof(uint64_t));
  return kSuccess;
}

FAKE_EXPORT CUresult cuPointerGetAttribute(void *data, int attribute,
                                           CUdeviceptr ptr) {
  Call call("cuPointerGetAttribute", false);
  if (call.result)
    return call.result;
  Allocation *allocation = findAllocation(call.s, ptr, 1);
  if (!allocation)
    return kInvalidValue; // Not memory the driver knows: host memory.
  if (attribute == 2) { // MEMORY_TYPE
    unsigned device = 2;
    std::memcpy(data, &device, sizeof(device));
    return kSuccess;
  }
  if (attribute == 9) { // DEVICE_ORDINAL
    std::memcpy(data, &allocation->ordinal, sizeof(int));
    return kSuccess;
  }
  return kInvalidValue;
}
