//===- cuda_backend.cc - Running CUDA artifacts ---------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Target "cuda": the entries' host code is an ELF shared object, as for the
// CPU (host_code.h), that embeds a fatbin and drives it through the mgpu*
// functions (cuda_mgpu.cc). Its constructors load the fatbin at dlopen, so
// the driver and context are set up first and dlopen runs in a CallScope
// whose errors fail the load. An invocation checks that the tensors are
// memory of the device, then calls the entry in a CallScope on the caller's
// stream.
//
//===----------------------------------------------------------------------===//

#include "cuda_driver.h"
#include "cuda_mgpu.h"

#include "../../backend.h"
#include "../../status.h"
#include "../host_code.h"

using namespace mf::rt;
using namespace mf::rt::cuda;

namespace {

/// The loaded host code of one module.
class CudaExecutable final : public Executable {
public:
  CudaExecutable(const Driver &driver, const Manifest &manifest)
      : driver(driver), manifest(manifest) {}

  ~CudaExecutable() override {
    // dlclose runs the code's destructors, which unload its CUDA modules:
    // they need the context, and their errors have nowhere to go.
    ContextScope context;
    mf_status_free(context.enter(driver));
    CallScope scope(driver);
    code.objects.clear();
  }

  mf_status_t invoke(size_t entryIndex, const mf_tensor_t *args,
                     size_t numArgs, void *stream, bool wait) const override {
    const EntrySpec &entry = manifest.entries[entryIndex];
    auto prefix = [&] { return "entry '" + entry.name + "': "; };
    ContextScope context;
    if (mf_status_t status = context.enter(driver))
      return annotateStatus(status, prefix());
    MF_RETURN_IF_ERROR(checkPointers(entry, args, numArgs));
    auto cuStream = static_cast<CUstream>(stream);
    MemRefArgs descriptors(args, numArgs);
    {
      CallScope scope(driver, cuStream);
      code.entries[entryIndex](descriptors.get());
      if (scope.failed())
        return scope.status(prefix());
    }
    if (wait)
      if (CUresult result = driver.cuStreamSynchronize(cuStream))
        return annotateStatus(
            MF_CUDA_CALL_FAILED(driver, "cuStreamSynchronize", result,
                                "waiting for the work of the entry"),
            prefix());
    return nullptr;
  }

  const Driver &driver;
  const Manifest &manifest;
  HostCode code;

private:
  /// Refuses data that is not memory of the runtime's device: a kernel
  /// touching it would fault and take the whole context (PyTorch's too)
  /// down with it.
  mf_status_t checkPointers(const EntrySpec &entry, const mf_tensor_t *args,
                            size_t numArgs) const {
    for (size_t i = 0; i < numArgs; ++i) {
      void *data = args[i].data;
      if (!data)
        continue; // An empty tensor (checkArguments saw to that).
      auto fail = [&](const auto &...parts) {
        return MF_MAKE_STATUS(INVALID_ARGUMENT, "entry '", entry.name,
                              "': argument ", i, " '", entry.args[i].name,
                              "': data pointer ", data, " ", parts...);
      };
      CUdeviceptr ptr = reinterpret_cast<uintptr_t>(data);
      unsigned type = 0;
      CUresult result = driver.cuPointerGetAttribute(
          &type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, ptr);
      if (result == CUDA_ERROR_INVALID_VALUE)
        return fail("is not CUDA memory (host memory?); cuda tensors need "
                    "device pointers");
      if (result)
        return annotateStatus(
            MF_CUDA_CALL_FAILED(driver, "cuPointerGetAttribute", result,
                                "MEMORY_TYPE"),
            concat("entry '", entry.name, "': argument ", i, " '",
                   entry.args[i].name, "': "));
      if (type != CU_MEMORYTYPE_DEVICE && type != CU_MEMORYTYPE_UNIFIED)
        return fail("is ",
                    type == CU_MEMORYTYPE_HOST ? "pinned host memory"
                                               : "not device memory",
                    "; cuda tensors need device pointers");
      int ordinal = -1;
      if (driver.cuPointerGetAttribute(
              &ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, ptr) ==
              CUDA_SUCCESS &&
          ordinal != driver.ordinal)
        return fail("is memory of CUDA device ", ordinal,
                    " but the runtime runs on device ", driver.ordinal,
                    " (MF_CUDA_DEVICE)");
    }
    return nullptr;
  }
};

/// Target "cuda".
class CudaBackend final : public Backend {
public:
  const char *target() const override { return "cuda"; }
  mf_device_kind_t deviceKind() const override { return MF_DEVICE_CUDA; }

  mf_status_t load(const Manifest &manifest, const unsigned char *data,
                   size_t size,
                   std::unique_ptr<Executable> &out) const override {
    (void)size; // Blob bounds were checked by parseArtifact.
    const Driver *driver = nullptr;
    MF_RETURN_IF_ERROR(getDriver(
        driver, concat("; this artifact targets cuda/", manifest.chip,
                       " and needs an NVIDIA GPU and driver")));
    ContextScope context;
    MF_RETURN_IF_ERROR(context.enter(*driver));
    auto executable = std::make_unique<CudaExecutable>(*driver, manifest);
    CallScope scope(*driver);
    MF_RETURN_IF_ERROR(executable->code.load(
        manifest, data, target(), [&](const BlobSpec &blob) {
          return scope.status("blob '" + blob.name + "': ");
        }));
    out = std::move(executable);
    return nullptr;
  }

  mf_status_t allocate(size_t size, void **out) const override {
    const Driver *driver = nullptr;
    MF_RETURN_IF_ERROR(getDriver(driver));
    ContextScope context;
    MF_RETURN_IF_ERROR(context.enter(*driver));
    CUdeviceptr ptr = 0;
    if (CUresult result = driver->cuMemAlloc(&ptr, size))
      return MF_CUDA_CALL_FAILED(*driver, "cuMemAlloc", result,
                                 concat(size, " bytes"));
    *out = reinterpret_cast<void *>(static_cast<uintptr_t>(ptr));
    return nullptr;
  }

  mf_status_t deallocate(void *ptr) const override {
    const Driver *driver = nullptr;
    MF_RETURN_IF_ERROR(getDriver(driver));
    ContextScope context;
    MF_RETURN_IF_ERROR(context.enter(*driver));
    if (CUresult result = driver->cuMemFree(reinterpret_cast<uintptr_t>(ptr)))
      return MF_CUDA_CALL_FAILED(*driver, "cuMemFree", result,
                                 concat("pointer ", ptr));
    return nullptr;
  }

  mf_status_t copy(void *dst, const void *src, size_t size,
                   mf_copy_kind_t kind) const override {
    const Driver *driver = nullptr;
    MF_RETURN_IF_ERROR(getDriver(driver));
    ContextScope context;
    MF_RETURN_IF_ERROR(context.enter(*driver));
    auto dstPtr = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(dst));
    auto srcPtr = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(src));
    const char *call = nullptr;
    CUresult result = CUDA_SUCCESS;
    switch (kind) {
    case MF_COPY_HOST_TO_DEVICE:
      call = "cuMemcpyHtoD";
      result = driver->cuMemcpyHtoD(dstPtr, src, size);
      break;
    case MF_COPY_DEVICE_TO_HOST:
      call = "cuMemcpyDtoH";
      result = driver->cuMemcpyDtoH(dst, srcPtr, size);
      break;
    default:
      call = "cuMemcpyDtoD";
      result = driver->cuMemcpyDtoD(dstPtr, srcPtr, size);
      break;
    }
    if (result)
      return MF_CUDA_CALL_FAILED(*driver, call, result,
                                 concat(size, " bytes from ", src, " to ",
                                        dst));
    return nullptr;
  }

  mf_status_t synchronize() const override {
    const Driver *driver = nullptr;
    MF_RETURN_IF_ERROR(getDriver(driver));
    ContextScope context;
    MF_RETURN_IF_ERROR(context.enter(*driver));
    if (CUresult result = driver->cuCtxSynchronize())
      return MF_CUDA_CALL_FAILED(*driver, "cuCtxSynchronize", result, "");
    return nullptr;
  }
};

} // namespace

std::unique_ptr<Backend> mf::rt::createCudaBackend() {
  return std::make_unique<CudaBackend>();
}
