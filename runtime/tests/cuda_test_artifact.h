//===- cuda_test_artifact.h - CUDA artifacts and the fake driver -*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Wraps fake_cuda_module.c into "cuda" artifacts, and reaches the fake
// driver's inspection functions (fake_cuda_driver.h) through dlopen of the
// same library the runtime opens.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_TESTS_CUDA_TEST_ARTIFACT_H
#define MF_RUNTIME_TESTS_CUDA_TEST_ARTIFACT_H

#include "fake_cuda_driver.h"
#include "test_artifact.h"

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <type_traits>

struct CUctx_st;

namespace mf::test {

/// Returns the bytes of the fake CUDA host code.
inline const std::string &fakeCudaModuleBytes() {
  static const std::string bytes = readFile(MF_FAKE_CUDA_MODULE_PATH);
  return bytes;
}

/// The entries of fake_cuda_module.c, each (x[N] f32, out[N] f32).
inline std::string cudaEntry(const char *name) {
  return std::string(R"({"name":")") + name + R"(","symbol":"_mf_entry_)" +
         name + R"(","host_blob":"host","args":[)"
                R"({"name":"x","role":"input","dtype":"f32","shape":["N"]},)"
                R"({"name":"out","role":"output","dtype":"f32","shape":["N"]}]})";
}

/// Returns a "cuda" artifact (chip sm_90a) of the fake CUDA host code.
inline std::string makeCudaArtifact() {
  const std::string &host = fakeCudaModuleBytes();
  return makeArtifact(
      [&](std::string, uint64_t base) {
        return R"({"format_version":1,"target":"cuda","chip":"sm_90a",)"
               R"("producer":"mf-runtime-tests","blobs":[)" +
               blobRecord("host", base, host) + R"(],"entries":[)" +
               cudaEntry("scale") + "," + cudaEntry("staged") + "," +
               cudaEntry("missing") + "]}";
      },
      host);
}

/// Points the runtime at the fake driver (before its first CUDA call).
inline void useFakeCudaDriver() {
  setenv("MF_CUDA_DRIVER_LIBRARY", MF_FAKE_CUDA_DRIVER_PATH, 1);
}

/// The fake driver's inspection functions.
struct FakeCuda {
  FakeCuda() {
    void *library = dlopen(MF_FAKE_CUDA_DRIVER_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!library)
      std::abort();
    auto get = [&](const char *name, auto &slot) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
          dlsym(library, name));
      if (!slot)
        std::abort();
    };
    get("mf_fake_cuda_reset", reset);
    get("mf_fake_cuda_fail", fail);
    get("mf_fake_cuda_calls", calls);
    get("mf_fake_cuda_count", count);
    get("mf_fake_cuda_launch_count", launchCount);
    get("mf_fake_cuda_launch", launch);
    get("mf_fake_cuda_live_allocations", liveAllocations);
    get("mf_fake_cuda_last_stream", lastStream);
    get("mf_fake_cuda_set_pointer_device", setPointerDevice);
    get("mf_fake_cuda_func_attribute", funcAttribute);
    get("mf_fake_cuda_primary_context", primaryContext);
    get("mf_fake_cuda_pool_release_threshold", poolReleaseThreshold);
    get("cuCtxSetCurrent", ctxSetCurrent);
    get("cuCtxGetCurrent", ctxGetCurrent);
  }

  decltype(&mf_fake_cuda_reset) reset;
  decltype(&mf_fake_cuda_fail) fail;
  decltype(&mf_fake_cuda_calls) calls;
  decltype(&mf_fake_cuda_count) count;
  decltype(&mf_fake_cuda_launch_count) launchCount;
  decltype(&mf_fake_cuda_launch) launch;
  decltype(&mf_fake_cuda_live_allocations) liveAllocations;
  decltype(&mf_fake_cuda_last_stream) lastStream;
  decltype(&mf_fake_cuda_set_pointer_device) setPointerDevice;
  decltype(&mf_fake_cuda_func_attribute) funcAttribute;
  decltype(&mf_fake_cuda_primary_context) primaryContext;
  decltype(&mf_fake_cuda_pool_release_threshold) poolReleaseThreshold;
  // The driver's own functions (the test thread's current context).
  int (*ctxSetCurrent)(CUctx_st *context);
  int (*ctxGetCurrent)(CUctx_st **context);
};

/// The fake driver of this process.
inline FakeCuda &fakeCuda() {
  static FakeCuda fake;
  return fake;
}

} // namespace mf::test

#endif // MF_RUNTIME_TESTS_CUDA_TEST_ARTIFACT_H
