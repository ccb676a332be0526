//===- fake_hip_runtime.cc - A HIP runtime stand-in for the tests ---------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The HIP runtime calls the runtime makes, over host memory: "device"
// allocations are host blocks, copies and memsets are performed, kernels
// are recorded instead of run. Two devices, a current one per thread (0 at
// first), as HIP has. It checks what a real runtime would refuse (no
// hipInit, unknown handles, out-of-range copies, more LDS than a workgroup
// has, a kernel launched while another device is current), so the tests
// catch those. See fake_hip_runtime.h for the inspection functions.
//
//===----------------------------------------------------------------------===//

#include "fake_hip_runtime.h"

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

// The handle types as hip_runtime_api.h declares them (UBSan checks that
// callers use the same function types).
struct ihipModule_t;
struct ihipModuleSymbol_t;
struct ihipStream_t;
struct ihipEvent_t;

struct hipPointerAttribute_t {
  int type; // hipMemoryType
  int device;
  void *devicePointer;
  void *hostPointer;
  int isManaged;
  unsigned allocationFlags;
};

namespace {

using hipError_t = int;
using hipModule_t = ihipModule_t *;
using hipFunction_t = ihipModuleSymbol_t *;
using hipStream_t = ihipStream_t *;
using hipEvent_t = ihipEvent_t *;

constexpr hipError_t kSuccess = 0;
constexpr hipError_t kInvalidValue = 1;
constexpr hipError_t kOutOfMemory = 2;
constexpr hipError_t kNotInitialized = 3;
constexpr hipError_t kInvalidDevice = 101;
constexpr hipError_t kInvalidImage = 200;
constexpr hipError_t kInvalidHandle = 400;
constexpr hipError_t kNotFound = 500;
constexpr int kDeviceCount = 2;
/// LDS per workgroup on gfx90a and gfx942.
constexpr unsigned kMaxSharedBytes = 64 * 1024;

struct Function {
  std::string name;
  int numParams = 0;
};

struct Module {
  int device = 0;
  std::vector<std::unique_ptr<Function>> functions;
};

struct Allocation {
  size_t size = 0;
  int type = 2; // hipMemoryTypeDevice (ROCm 6)
  int device = 0;
};

struct State {
  std::mutex mutex;
  bool initialized = false;
  std::string calls;
  std::map<std::string, int> counts;
  std::map<std::string, hipError_t> failures;
  std::map<std::string, void *> lastStreams;
  std::vector<mf_fake_hip_launch_t> launches;
  std::map<uintptr_t, Allocation> allocations;
  std::set<Module *> modules;
  std::set<void *> streams, events;
};

State &state() {
  static State *s = new State;
  return *s;
}

thread_local int currentDevice = 0;

/// Adds the failures in $MF_FAKE_HIP_FAIL ("name=error,...").
void readFailuresFromEnvironment(State &s) {
  const char *text = std::getenv("MF_FAKE_HIP_FAIL");
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
/// whether the call must fail (injected, or not initialized).
class Call {
public:
  Call(const char *name, bool needsInit = true)
      : s(state()), lock(s.mutex), name(name) {
    s.calls += name;
    s.calls += ' ';
    ++s.counts[name];
    auto it = s.failures.find(name);
    if (it != s.failures.end() && it->second)
      result = it->second;
    else if (needsInit && !s.initialized)
      result = kNotInitialized;
  }

  /// Notes the stream the call was given.
  void onStream(void *stream) { s.lastStreams[name] = stream; }

  State &s;
  std::lock_guard<std::mutex> lock;
  const char *name;
  hipError_t result = kSuccess;
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

/// The function of `handle` and its module, or NULL.
Function *findFunction(State &s, void *handle, Module **module) {
  for (Module *candidate : s.modules)
    for (auto &function : candidate->functions)
      if (function.get() == handle) {
        *module = candidate;
        return function.get();
      }
  return nullptr;
}

hipError_t allocate(State &s, void **out, size_t size) {
  if (size == 0) {
    *out = nullptr;
    return kSuccess;
  }
  void *block = std::aligned_alloc(256, (size + 255) / 256 * 256);
  if (!block)
    return kOutOfMemory;
  Allocation allocation;
  allocation.size = size;
  allocation.device = currentDevice;
  s.allocations[reinterpret_cast<uintptr_t>(block)] = allocation;
  *out = block;
  return kSuccess;
}

hipError_t release(State &s, void *ptr) {
  if (!ptr)
    return kSuccess;
  auto it = s.allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == s.allocations.end())
    return kInvalidValue;
  std::free(ptr);
  s.allocations.erase(it);
  return kSuccess;
}

/// A copy; `dstDevice`/`srcDevice` say which ends must be allocations.
hipError_t copy(State &s, void *dst, bool dstDevice, const void *src,
                bool srcDevice, size_t size) {
  if ((dstDevice &&
       !findAllocation(s, reinterpret_cast<uintptr_t>(dst), size)) ||
      (srcDevice && !findAllocation(s, reinterpret_cast<uintptr_t>(src), size)))
    return kInvalidValue;
  std::memmove(dst, src, size);
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

FAKE_EXPORT void mf_fake_hip_reset(void) {
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

FAKE_EXPORT void mf_fake_hip_fail(const char *call, int error) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.failures[call] = error;
}

FAKE_EXPORT const char *mf_fake_hip_calls(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.calls.c_str();
}

FAKE_EXPORT int mf_fake_hip_count(const char *call) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.counts.find(call);
  return it == s.counts.end() ? 0 : it->second;
}

FAKE_EXPORT int mf_fake_hip_launch_count(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<int>(s.launches.size());
}

FAKE_EXPORT int mf_fake_hip_launch(int index, mf_fake_hip_launch_t *out) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (index < 0 || static_cast<size_t>(index) >= s.launches.size())
    return 0;
  *out = s.launches[index];
  return 1;
}

FAKE_EXPORT int mf_fake_hip_live_allocations(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<int>(s.allocations.size());
}

FAKE_EXPORT void *mf_fake_hip_last_stream(const char *call) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.lastStreams.find(call);
  return it == s.lastStreams.end() ? nullptr : it->second;
}

FAKE_EXPORT int mf_fake_hip_set_pointer(void *ptr, int type, int device) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  Allocation *allocation =
      findAllocation(s, reinterpret_cast<uintptr_t>(ptr), 1);
  if (!allocation)
    return 0;
  allocation->type = type;
  allocation->device = device;
  return 1;
}

FAKE_EXPORT int mf_fake_hip_live_modules(void) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<int>(s.modules.size());
}

//===----------------------------------------------------------------------===//
// The HIP runtime API
//===----------------------------------------------------------------------===//

FAKE_EXPORT const char *hipGetErrorName(hipError_t error) {
  static const std::map<hipError_t, const char *> names = {
      {0, "hipSuccess"},
      {1, "hipErrorInvalidValue"},
      {2, "hipErrorOutOfMemory"},
      {3, "hipErrorNotInitialized"},
      {100, "hipErrorNoDevice"},
      {101, "hipErrorInvalidDevice"},
      {200, "hipErrorInvalidImage"},
      {400, "hipErrorInvalidHandle"},
      {500, "hipErrorNotFound"},
      {700, "hipErrorIllegalAddress"},
      {719, "hipErrorLaunchFailure"},
      {801, "hipErrorNotSupported"},
  };
  auto it = names.find(error);
  return it == names.end() ? "hipErrorUnknown" : it->second;
}

FAKE_EXPORT hipError_t hipInit(unsigned flags) {
  Call call("hipInit", false);
  if (call.result)
    return call.result;
  if (flags != 0)
    return kInvalidValue;
  call.s.initialized = true;
  return kSuccess;
}

FAKE_EXPORT hipError_t hipRuntimeGetVersion(int *version) {
  Call call("hipRuntimeGetVersion", false);
  if (call.result)
    return call.result;
  const char *text = std::getenv("MF_FAKE_HIP_VERSION");
  *version = text && *text ? std::atoi(text) : 60200000;
  return kSuccess;
}

FAKE_EXPORT hipError_t hipGetDeviceCount(int *count) {
  Call call("hipGetDeviceCount");
  if (call.result)
    return call.result;
  *count = kDeviceCount;
  return kSuccess;
}

FAKE_EXPORT hipError_t hipGetDevice(int *device) {
  Call call("hipGetDevice");
  if (call.result)
    return call.result;
  *device = currentDevice;
  return kSuccess;
}

FAKE_EXPORT hipError_t hipSetDevice(int device) {
  Call call("hipSetDevice");
  if (call.result)
    return call.result;
  if (device < 0 || device >= kDeviceCount)
    return kInvalidDevice;
  currentDevice = device;
  return kSuccess;
}

FAKE_EXPORT hipError_t hipDeviceSynchronize(void) {
  Call call("hipDeviceSynchronize");
  return call.result;
}

FAKE_EXPORT hipError_t hipModuleLoadData(hipModule_t *module,
                                         const void *image) {
  Call call("hipModuleLoadData");
  if (call.result)
    return call.result;
  const char *text = static_cast<const char *>(image);
  size_t magic = std::strlen(MF_FAKE_HSACO_MAGIC);
  if (!text || std::strncmp(text, MF_FAKE_HSACO_MAGIC, magic) != 0)
    return kInvalidImage;
  auto loaded = std::make_unique<Module>();
  loaded->device = currentDevice;
  std::stringstream lines(text + magic);
  std::string name;
  int numParams = 0;
  while (lines >> name >> numParams) {
    auto function = std::make_unique<Function>();
    function->name = name;
    function->numParams = numParams;
    loaded->functions.push_back(std::move(function));
  }
  *module = reinterpret_cast<hipModule_t>(loaded.get());
  call.s.modules.insert(loaded.release());
  return kSuccess;
}

FAKE_EXPORT hipError_t hipModuleUnload(hipModule_t module) {
  Call call("hipModuleUnload");
  if (call.result)
    return call.result;
  auto *loaded = reinterpret_cast<Module *>(module);
  if (!call.s.modules.erase(loaded))
    return kInvalidHandle;
  delete loaded;
  return kSuccess;
}

FAKE_EXPORT hipError_t hipModuleGetFunction(hipFunction_t *function,
                                            hipModule_t module,
                                            const char *name) {
  Call call("hipModuleGetFunction");
  if (call.result)
    return call.result;
  auto *loaded = reinterpret_cast<Module *>(module);
  if (!call.s.modules.count(loaded))
    return kInvalidHandle;
  for (auto &candidate : loaded->functions)
    if (candidate->name == name) {
      *function = reinterpret_cast<hipFunction_t>(candidate.get());
      return kSuccess;
    }
  return kNotFound;
}

FAKE_EXPORT hipError_t hipModuleLaunchKernel(
    hipFunction_t function, unsigned gridX, unsigned gridY, unsigned gridZ,
    unsigned blockX, unsigned blockY, unsigned blockZ, unsigned sharedBytes,
    hipStream_t stream, void **params, void **extra) {
  Call call("hipModuleLaunchKernel");
  call.onStream(stream);
  if (call.result)
    return call.result;
  Module *module = nullptr;
  Function *found = findFunction(call.s, function, &module);
  if (!found)
    return kInvalidHandle;
  if (module->device != currentDevice)
    return kInvalidDevice;
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ ||
      uint64_t(blockX) * blockY * blockZ > 1024 || extra ||
      (found->numParams > 0 && !params) || sharedBytes > kMaxSharedBytes)
    return kInvalidValue;
  mf_fake_hip_launch_t launch = {};
  std::strncpy(launch.kernel, found->name.c_str(), sizeof(launch.kernel) - 1);
  launch.grid[0] = gridX;
  launch.grid[1] = gridY;
  launch.grid[2] = gridZ;
  launch.block[0] = blockX;
  launch.block[1] = blockY;
  launch.block[2] = blockZ;
  launch.shared_bytes = sharedBytes;
  launch.stream = stream;
  launch.device = currentDevice;
  launch.num_params = found->numParams;
  for (int i = 0; i < found->numParams && i < MF_FAKE_HIP_MAX_PARAMS; ++i)
    std::memcpy(&launch.params[i], params[i], 8);
  call.s.launches.push_back(launch);
  return kSuccess;
}

FAKE_EXPORT hipError_t hipStreamCreateWithFlags(hipStream_t *stream,
                                                unsigned flags) {
  Call call("hipStreamCreateWithFlags");
  if (call.result)
    return call.result;
  (void)flags;
  *stream = reinterpret_cast<hipStream_t>(new int);
  call.s.streams.insert(*stream);
  return kSuccess;
}

FAKE_EXPORT hipError_t hipStreamSynchronize(hipStream_t stream) {
  Call call("hipStreamSynchronize");
  call.onStream(stream); // Callers' streams are not ours to check.
  return call.result;
}

FAKE_EXPORT hipError_t hipStreamDestroy(hipStream_t stream) {
  Call call("hipStreamDestroy");
  if (call.result)
    return call.result;
  if (!call.s.streams.erase(stream))
    return kInvalidHandle;
  delete reinterpret_cast<int *>(stream);
  return kSuccess;
}

FAKE_EXPORT hipError_t hipStreamWaitEvent(hipStream_t stream, hipEvent_t event,
                                          unsigned flags) {
  Call call("hipStreamWaitEvent");
  call.onStream(stream);
  if (call.result)
    return call.result;
  return call.s.events.count(event) && flags == 0 ? kSuccess : kInvalidHandle;
}

FAKE_EXPORT hipError_t hipEventCreateWithFlags(hipEvent_t *event,
                                               unsigned flags) {
  Call call("hipEventCreateWithFlags");
  if (call.result)
    return call.result;
  (void)flags;
  *event = reinterpret_cast<hipEvent_t>(new int);
  call.s.events.insert(*event);
  return kSuccess;
}

FAKE_EXPORT hipError_t hipEventRecord(hipEvent_t event, hipStream_t stream) {
  Call call("hipEventRecord");
  call.onStream(stream);
  if (call.result)
    return call.result;
  return call.s.events.count(event) ? kSuccess : kInvalidHandle;
}

FAKE_EXPORT hipError_t hipEventSynchronize(hipEvent_t event) {
  Call call("hipEventSynchronize");
  if (call.result)
    return call.result;
  return call.s.events.count(event) ? kSuccess : kInvalidHandle;
}

FAKE_EXPORT hipError_t hipEventDestroy(hipEvent_t event) {
  Call call("hipEventDestroy");
  if (call.result)
    return call.result;
  if (!call.s.events.erase(event))
    return kInvalidHandle;
  delete reinterpret_cast<int *>(event);
  return kSuccess;
}

FAKE_EXPORT hipError_t hipMalloc(void **ptr, size_t size) {
  Call call("hipMalloc");
  return call.result ? call.result : allocate(call.s, ptr, size);
}

FAKE_EXPORT hipError_t hipFree(void *ptr) {
  Call call("hipFree");
  return call.result ? call.result : release(call.s, ptr);
}

FAKE_EXPORT hipError_t hipMallocAsync(void **ptr, size_t size,
                                      hipStream_t stream) {
  Call call("hipMallocAsync");
  call.onStream(stream);
  return call.result ? call.result : allocate(call.s, ptr, size);
}

FAKE_EXPORT hipError_t hipFreeAsync(void *ptr, hipStream_t stream) {
  Call call("hipFreeAsync");
  call.onStream(stream);
  return call.result ? call.result : release(call.s, ptr);
}

FAKE_EXPORT hipError_t hipMemcpy(void *dst, const void *src, size_t size,
                                 int kind) {
  Call call("hipMemcpy");
  if (call.result)
    return call.result;
  switch (kind) {
  case 1: // hipMemcpyHostToDevice
    return copy(call.s, dst, true, src, false, size);
  case 2: // hipMemcpyDeviceToHost
    return copy(call.s, dst, false, src, true, size);
  case 3: // hipMemcpyDeviceToDevice
    return copy(call.s, dst, true, src, true, size);
  default:
    return kInvalidValue;
  }
}

FAKE_EXPORT hipError_t hipMemcpyAsync(void *dst, const void *src, size_t size,
                                      int kind, hipStream_t stream) {
  Call call("hipMemcpyAsync");
  call.onStream(stream);
  if (call.result)
    return call.result;
  // hipMemcpyDefault (unified addressing); the tests' compiled code copies
  // between device buffers only.
  if (kind != 4)
    return kInvalidValue;
  return copy(call.s, dst, true, src, true, size);
}

FAKE_EXPORT hipError_t hipMemsetD32Async(void *dst, int value, size_t count,
                                         hipStream_t stream) {
  Call call("hipMemsetD32Async");
  call.onStream(stream);
  if (call.result)
    return call.result;
  auto at = reinterpret_cast<uintptr_t>(dst);
  if (at % 4 || !findAllocation(call.s, at, count * 4))
    return kInvalidValue;
  for (size_t i = 0; i < count; ++i)
    std::memcpy(static_cast<char *>(dst) + 4 * i, &value, 4);
  return kSuccess;
}

FAKE_EXPORT hipError_t hipMemsetD16Async(void *dst, unsigned short value,
                                         size_t count, hipStream_t stream) {
  Call call("hipMemsetD16Async");
  call.onStream(stream);
  if (call.result)
    return call.result;
  auto at = reinterpret_cast<uintptr_t>(dst);
  if (at % 2 || !findAllocation(call.s, at, count * 2))
    return kInvalidValue;
  for (size_t i = 0; i < count; ++i)
    std::memcpy(static_cast<char *>(dst) + 2 * i, &value, 2);
  return kSuccess;
}

FAKE_EXPORT hipError_t
hipPointerGetAttributes(hipPointerAttribute_t *attributes, const void *ptr) {
  Call call("hipPointerGetAttributes");
  if (call.result)
    return call.result;
  *attributes = {};
  Allocation *allocation =
      findAllocation(call.s, reinterpret_cast<uintptr_t>(ptr), 1);
  // ROCm 6: memory the runtime does not know is hipMemoryTypeUnregistered.
  if (!allocation) {
    attributes->device = -1;
    return kSuccess;
  }
  attributes->type = allocation->type;
  attributes->device = allocation->device;
  attributes->devicePointer = const_cast<void *>(ptr);
  attributes->isManaged = allocation->type == 3;
  return kSuccess;
}
