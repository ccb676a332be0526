//===- hip_test_artifact.h - rocm artifacts and the fake HIP ----*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Wraps fake_rocm_module.c into "rocm" artifacts, and reaches the fake HIP
// runtime's inspection functions (fake_hip_runtime.h) through dlopen of the
// same library the runtime opens.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_TESTS_HIP_TEST_ARTIFACT_H
#define MF_RUNTIME_TESTS_HIP_TEST_ARTIFACT_H

#include "fake_hip_runtime.h"
#include "test_artifact.h"

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <type_traits>

namespace mf::test {

/// Returns the bytes of the fake rocm host code.
inline const std::string &fakeRocmModuleBytes() {
  static const std::string bytes = readFile(MF_FAKE_ROCM_MODULE_PATH);
  return bytes;
}

/// An entry of fake_rocm_module.c taking (x[N] f32, out[N] f32).
inline std::string rocmEntry(const char *name) {
  return std::string(R"({"name":")") + name + R"(","symbol":"_mf_entry_)" +
         name +
         R"(","host_blob":"host","args":[)"
         R"({"name":"x","role":"input","dtype":"f32","shape":["N"]},)"
         R"({"name":"out","role":"output","dtype":"f32","shape":["N"]}]})";
}

/// The entry marshal of fake_rocm_module.c: ranks 3, 0, 1, 2.
inline const char *kMarshalEntry =
    R"({"name":"marshal","symbol":"_mf_entry_marshal","host_blob":"host",)"
    R"("args":[)"
    R"({"name":"a","role":"input","dtype":"f32","shape":[2,"S",3]},)"
    R"({"name":"b","role":"input","dtype":"f64","shape":[]},)"
    R"({"name":"c","role":"input","dtype":"i32","shape":["N"]},)"
    R"({"name":"out","role":"output","dtype":"f32","shape":["S","N"]}]})";

/// Returns a "rocm" artifact for `chip` of the fake rocm host code.
inline std::string makeRocmArtifact(const std::string &chip = "gfx942") {
  const std::string &host = fakeRocmModuleBytes();
  return makeArtifact(
      [&](std::string, uint64_t base) {
        return R"({"format_version":1,"target":"rocm","chip":")" + chip +
               R"(","producer":"mf-runtime-tests","blobs":[)" +
               blobRecord("host", base, host) + R"(],"entries":[)" +
               rocmEntry("scale") + "," + rocmEntry("staged") + "," +
               rocmEntry("missing") + "," + kMarshalEntry + "]}";
      },
      host);
}

/// Points the runtime at the fake HIP runtime (before its first HIP call).
inline void useFakeHipRuntime() {
  setenv("MF_HIP_RUNTIME_LIBRARY", MF_FAKE_HIP_RUNTIME_PATH, 1);
}

/// The fake HIP runtime's inspection functions.
struct FakeHip {
  FakeHip() {
    void *library = dlopen(MF_FAKE_HIP_RUNTIME_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!library)
      std::abort();
    auto get = [&](const char *name, auto &slot) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
          dlsym(library, name));
      if (!slot)
        std::abort();
    };
    get("mf_fake_hip_reset", reset);
    get("mf_fake_hip_fail", fail);
    get("mf_fake_hip_calls", calls);
    get("mf_fake_hip_count", count);
    get("mf_fake_hip_launch_count", launchCount);
    get("mf_fake_hip_launch", launch);
    get("mf_fake_hip_live_allocations", liveAllocations);
    get("mf_fake_hip_last_stream", lastStream);
    get("mf_fake_hip_set_pointer", setPointer);
    get("mf_fake_hip_live_modules", liveModules);
    get("hipSetDevice", setDevice);
    get("hipGetDevice", getDevice);
  }

  decltype(&mf_fake_hip_reset) reset;
  decltype(&mf_fake_hip_fail) fail;
  decltype(&mf_fake_hip_calls) calls;
  decltype(&mf_fake_hip_count) count;
  decltype(&mf_fake_hip_launch_count) launchCount;
  decltype(&mf_fake_hip_launch) launch;
  decltype(&mf_fake_hip_live_allocations) liveAllocations;
  decltype(&mf_fake_hip_last_stream) lastStream;
  decltype(&mf_fake_hip_set_pointer) setPointer;
  decltype(&mf_fake_hip_live_modules) liveModules;
  // The runtime's own functions (the test thread's current device).
  int (*setDevice)(int device);
  int (*getDevice)(int *device);
};

/// The fake HIP runtime of this process.
inline FakeHip &fakeHip() {
  static FakeHip fake;
  return fake;
}

} // namespace mf::test

#endif // MF_RUNTIME_TESTS_HIP_TEST_ARTIFACT_H
