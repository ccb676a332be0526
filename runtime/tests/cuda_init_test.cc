//===- cuda_init_test.cc - The CUDA backend without a usable driver -------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Built twice (the driver is set up once per process): with a driver
// library that does not exist (MF_TEST_NO_DRIVER), and with the fake driver
// failing cuInit (MF_TEST_NO_INIT).
//
//===----------------------------------------------------------------------===//

#include "cuda_test_artifact.h"

#include "mf/runtime/api.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace mf::test;

namespace {

#if defined(MF_TEST_NO_DRIVER)
#define MF_TEST_DRIVER "/nonexistent/libcuda.so.1"
#define MF_TEST_FAKE_FAIL ""
#define MF_TEST_EXPECTED_MESSAGE                                               \
  "CUDA backend: cannot load the CUDA driver (/nonexistent/libcuda.so.1: "
#elif defined(MF_TEST_NO_INIT)
#define MF_TEST_DRIVER MF_FAKE_CUDA_DRIVER_PATH
#define MF_TEST_FAKE_FAIL "cuInit=100"
#define MF_TEST_EXPECTED_MESSAGE                                               \
  "CUDA backend: cuInit failed: CUDA_ERROR_NO_DEVICE"
#else
#error "define MF_TEST_NO_DRIVER or MF_TEST_NO_INIT"
#endif

[[maybe_unused]] const bool kEnvironment = [] {
  setenv("MF_CUDA_DRIVER_LIBRARY", MF_TEST_DRIVER, 1);
  setenv("MF_FAKE_CUDA_FAIL", MF_TEST_FAKE_FAIL, 1);
  return true;
}();

/// Expects `status` to be UNAVAILABLE and to contain `texts`; frees it.
void expectUnavailable(mf_status_t status,
                       std::initializer_list<std::string> texts) {
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_UNAVAILABLE)
      << mf_status_message(status);
  std::string message = mf_status_message(status);
  for (const std::string &text : texts)
    EXPECT_NE(message.find(text), std::string::npos)
        << "message: " << message << "\nwanted: " << text;
  mf_status_free(status);
}

TEST(CudaInitTest, LoadingACudaArtifactIsUnavailable) {
  // Twice: the outcome of the first attempt is kept.
  for (int attempt = 0; attempt < 2; ++attempt)
    expectUnavailable(tryLoad(makeCudaArtifact()),
                      {MF_TEST_EXPECTED_MESSAGE,
                       "; this artifact targets cuda/sm_90a and needs an "
                       "NVIDIA GPU and driver"});
}

TEST(CudaInitTest, DeviceMemoryIsUnavailableButCpuWorks) {
  mf_runtime_t *runtime = nullptr;
  ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
  void *ptr = nullptr;
  expectUnavailable(mf_device_alloc(runtime, MF_DEVICE_CUDA, 64, &ptr),
                    {MF_TEST_EXPECTED_MESSAGE});
  expectUnavailable(mf_device_synchronize(runtime, MF_DEVICE_CUDA),
                    {MF_TEST_EXPECTED_MESSAGE});
  EXPECT_EQ(mf_device_alloc(runtime, MF_DEVICE_CPU, 64, &ptr), nullptr);
  EXPECT_EQ(mf_device_free(runtime, MF_DEVICE_CPU, ptr), nullptr);
  EXPECT_EQ(tryLoad(makeArtifact()), nullptr);
  mf_runtime_release(runtime);
}

} // namespace
