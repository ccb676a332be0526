//===- hip_backend.cc - Running rocm artifacts ----------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Target "rocm": as for cuda (../cuda/cuda_backend.cc), the entries' host
// code is an ELF shared object that embeds a code object (HSACO) and drives
// it through the mgpu* functions (hip_mgpu.cc). Its constructors load the
// code object at dlopen, so the runtime and device are set up first and
// dlopen runs in a CallScope whose errors fail the load. An invocation
// checks that the tensors are memory of the device, then calls the entry in
// a CallScope on the caller's stream.
//
//===----------------------------------------------------------------------===//

#include "hip_mgpu.h"
#include "hip_runtime.h"

#include "../../backend.h"
#include "../../status.h"
#include "../host_code.h"

using namespace mf::rt;
using namespace mf::rt::hip;

namespace {

/// The loaded host code of one module.
class HipExecutable final : public Executable {
public:
  HipExecutable(const Runtime &runtime, const Manifest &manifest)
      : runtime(runtime), manifest(manifest) {}

  ~HipExecutable() override {
    // dlclose runs the code's destructors, which unload its code objects:
    // they need the device, and their errors have nowhere to go.
    DeviceScope device;
    mf_status_free(device.enter(runtime));
    CallScope scope(runtime);
    code.objects.clear();
  }

  mf_status_t invoke(size_t entryIndex, const mf_tensor_t *args, size_t numArgs,
                     void *stream, bool wait) const override {
    const EntrySpec &entry = manifest.entries[entryIndex];
    auto prefix = [&] { return "entry '" + entry.name + "': "; };
    DeviceScope device;
    if (mf_status_t status = device.enter(runtime))
      return annotateStatus(status, prefix());
    MF_RETURN_IF_ERROR(checkPointers(entry, args, numArgs));
    auto hipStream = static_cast<hipStream_t>(stream);
    MemRefArgs descriptors(args, numArgs);
    {
      CallScope scope(runtime, hipStream);
      code.entries[entryIndex](descriptors.get());
      if (scope.failed())
        return scope.status(prefix());
    }
    if (wait)
      if (hipError_t result = runtime.hipStreamSynchronize(hipStream))
        return annotateStatus(
            MF_HIP_CALL_FAILED(runtime, "hipStreamSynchronize", result,
                               "waiting for the work of the entry"),
            prefix());
    return nullptr;
  }

  const Runtime &runtime;
  const Manifest &manifest;
  HostCode code;

private:
  /// Refuses data that is not memory of the runtime's device: a kernel
  /// touching it would fault and take the process's GPU work down with it.
  mf_status_t checkPointers(const EntrySpec &entry, const mf_tensor_t *args,
                            size_t numArgs) const {
    for (size_t i = 0; i < numArgs; ++i) {
      void *data = args[i].data;
      if (!data)
        continue; // An empty tensor (checkArguments saw to that).
      auto argPrefix = [&] {
        return concat("entry '", entry.name, "': argument ", i, " '",
                      entry.args[i].name, "': ");
      };
      auto fail = [&](const auto &...parts) {
        return MF_MAKE_STATUS(INVALID_ARGUMENT, argPrefix(), "data pointer ",
                              data, " ", parts...);
      };
      PointerAttributes attributes = {};
      hipError_t result = runtime.hipPointerGetAttributes(&attributes, data);
      // ROCm 5 refuses unregistered host memory; ROCm 6 reports it.
      MemoryKind kind = result == hipErrorInvalidValue
                            ? MemoryKind::Unregistered
                            : runtime.memoryKindOf(attributes.type);
      if (result && result != hipErrorInvalidValue)
        return annotateStatus(
            MF_HIP_CALL_FAILED(runtime, "hipPointerGetAttributes", result, ""),
            argPrefix());
      if (kind == MemoryKind::Unregistered)
        return fail("is not HIP memory (host memory?); rocm tensors need "
                    "device pointers");
      if (kind != MemoryKind::Device && kind != MemoryKind::Managed &&
          !attributes.isManaged)
        return fail("is ",
                    kind == MemoryKind::Host ? "pinned host memory"
                                             : "not device memory",
                    "; rocm tensors need device pointers");
      if (kind == MemoryKind::Device && attributes.device != runtime.ordinal)
        return fail("is memory of HIP device ", attributes.device,
                    " but the runtime runs on device ", runtime.ordinal,
                    " (MF_HIP_DEVICE)");
    }
    return nullptr;
  }
};

/// Target "rocm".
class HipBackend final : public Backend {
public:
  const char *target() const override { return "rocm"; }
  mf_device_kind_t deviceKind() const override { return MF_DEVICE_HIP; }

  mf_status_t load(const Manifest &manifest, const unsigned char *data,
                   size_t size,
                   std::unique_ptr<Executable> &out) const override {
    (void)size; // Blob bounds were checked by parseArtifact.
    const Runtime *runtime = nullptr;
    MF_RETURN_IF_ERROR(getRuntime(
        runtime, concat("; this artifact targets rocm/", manifest.chip,
                        " and needs an AMD GPU with ROCm")));
    DeviceScope device;
    MF_RETURN_IF_ERROR(device.enter(*runtime));
    auto executable = std::make_unique<HipExecutable>(*runtime, manifest);
    CallScope scope(*runtime);
    MF_RETURN_IF_ERROR(executable->code.load(
        manifest, data, target(), [&](const BlobSpec &blob) {
          return scope.status("blob '" + blob.name + "': ");
        }));
    out = std::move(executable);
    return nullptr;
  }

  mf_status_t allocate(size_t size, void **out) const override {
    const Runtime *runtime = nullptr;
    MF_RETURN_IF_ERROR(getRuntime(runtime));
    DeviceScope device;
    MF_RETURN_IF_ERROR(device.enter(*runtime));
    void *ptr = nullptr;
    if (hipError_t result = runtime->hipMalloc(&ptr, size))
      return MF_HIP_CALL_FAILED(*runtime, "hipMalloc", result,
                                concat(size, " bytes"));
    *out = ptr;
    return nullptr;
  }

  mf_status_t deallocate(void *ptr) const override {
    const Runtime *runtime = nullptr;
    MF_RETURN_IF_ERROR(getRuntime(runtime));
    DeviceScope device;
    MF_RETURN_IF_ERROR(device.enter(*runtime));
    if (hipError_t result = runtime->hipFree(ptr))
      return MF_HIP_CALL_FAILED(*runtime, "hipFree", result,
                                concat("pointer ", ptr));
    return nullptr;
  }

  mf_status_t copy(void *dst, const void *src, size_t size,
                   mf_copy_kind_t kind) const override {
    const Runtime *runtime = nullptr;
    MF_RETURN_IF_ERROR(getRuntime(runtime));
    DeviceScope device;
    MF_RETURN_IF_ERROR(device.enter(*runtime));
    int hipKind = kind == MF_COPY_HOST_TO_DEVICE   ? hipMemcpyHostToDevice
                  : kind == MF_COPY_DEVICE_TO_HOST ? hipMemcpyDeviceToHost
                                                   : hipMemcpyDeviceToDevice;
    if (hipError_t result = runtime->hipMemcpy(dst, src, size, hipKind))
      return MF_HIP_CALL_FAILED(
          *runtime, "hipMemcpy", result,
          concat(kind == MF_COPY_HOST_TO_DEVICE   ? "host to device, "
                 : kind == MF_COPY_DEVICE_TO_HOST ? "device to host, "
                                                  : "device to device, ",
                 size, " bytes from ", src, " to ", dst));
    return nullptr;
  }

  mf_status_t synchronize() const override {
    const Runtime *runtime = nullptr;
    MF_RETURN_IF_ERROR(getRuntime(runtime));
    DeviceScope device;
    MF_RETURN_IF_ERROR(device.enter(*runtime));
    if (hipError_t result = runtime->hipDeviceSynchronize())
      return MF_HIP_CALL_FAILED(*runtime, "hipDeviceSynchronize", result, "");
    return nullptr;
  }
};

} // namespace

std::unique_ptr<Backend> mf::rt::createHipBackend() {
  return std::make_unique<HipBackend>();
}
