//===- cuda_dlopen_test.cc - Host code of a runtime opened RTLD_LOCAL -----===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Python's ctypes opens libraries RTLD_LOCAL, where host code could not see
// the runtime's mgpu* functions; the runtime promotes itself to the global
// scope before loading host code. This program does not link the runtime.
//
//===----------------------------------------------------------------------===//

#include "cuda_test_artifact.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

using namespace mf::test;

namespace {

TEST(CudaDlopenTest, HostCodeFindsTheMgpuFunctionsOfALocalRuntime) {
  useFakeCudaDriver();
  void *library = dlopen(MF_RUNTIME_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << dlerror();
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "mgpuModuleLoad"), nullptr);

  auto get = [&](const char *name, auto &slot) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
        dlsym(library, name));
    ASSERT_NE(slot, nullptr) << name;
  };
  decltype(&mf_runtime_create) create = nullptr;
  decltype(&mf_runtime_release) releaseRuntime = nullptr;
  decltype(&mf_module_load_memory) loadMemory = nullptr;
  decltype(&mf_module_release) releaseModule = nullptr;
  decltype(&mf_status_message) message = nullptr;
  get("mf_runtime_create", create);
  get("mf_runtime_release", releaseRuntime);
  get("mf_module_load_memory", loadMemory);
  get("mf_module_release", releaseModule);
  get("mf_status_message", message);

  mf_runtime_t *runtime = nullptr;
  ASSERT_EQ(create(&runtime), nullptr);
  std::string bytes = makeCudaArtifact();
  mf_module_t *module = nullptr;
  mf_status_t status =
      loadMemory(runtime, bytes.data(), bytes.size(), &module);
  EXPECT_EQ(status, nullptr) << message(status);
  EXPECT_NE(dlsym(RTLD_DEFAULT, "mgpuModuleLoad"), nullptr);
  EXPECT_EQ(fakeCuda().count("cuModuleLoadData"), 1);
  releaseModule(module);
  releaseRuntime(runtime);
}

} // namespace
