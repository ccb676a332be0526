//===- hip_cuda_test.cc - cuda and rocm modules in one process ------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The host code of both targets calls the same mgpu* symbols, which the
// runtime exports once: each call must reach the backend of the module
// whose code runs on the thread (the fake CUDA driver and the fake HIP
// runtime at once).
//
//===----------------------------------------------------------------------===//

#include "cuda_test_artifact.h"
#include "hip_test_artifact.h"

#include "mf/runtime/api.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

extern "C" {
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
}

using namespace mf::test;

namespace {

[[maybe_unused]] const bool kUsesFakes =
    (useFakeCudaDriver(), useFakeHipRuntime(), true);

void *const kStream = reinterpret_cast<void *>(0x5300);

/// Expects success, printing the message otherwise.
void expectOk(mf_status_t status) {
  EXPECT_EQ(status, nullptr) << mf_status_message(status);
  mf_status_free(status);
}

mf_tensor_t vec(void *data, int64_t n, mf_device_kind_t device) {
  mf_tensor_t tensor = {};
  tensor.data = data;
  tensor.dtype = MF_DTYPE_F32;
  tensor.rank = 1;
  tensor.dims[0] = n;
  tensor.device = device;
  return tensor;
}

/// A runtime with a cuda and a rocm module loaded, and buffers for each.
class HipCudaTest : public ::testing::Test {
protected:
  void SetUp() override {
    cuda.reset();
    hip.reset();
    ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
    load(makeCudaArtifact(), cudaModule, cudaScale, cudaStaged);
    load(makeRocmArtifact(), hipModule, hipScale, hipStaged);
    for (int i = 0; i < 2; ++i) {
      expectOk(mf_device_alloc(runtime, MF_DEVICE_CUDA, kN * 4, &cudaBuf[i]));
      expectOk(mf_device_alloc(runtime, MF_DEVICE_HIP, kN * 4, &hipBuf[i]));
    }
  }

  void TearDown() override {
    for (int i = 0; i < 2; ++i) {
      expectOk(mf_device_free(runtime, MF_DEVICE_CUDA, cudaBuf[i]));
      expectOk(mf_device_free(runtime, MF_DEVICE_HIP, hipBuf[i]));
    }
    mf_module_release(cudaModule);
    mf_module_release(hipModule);
    mf_runtime_release(runtime);
    EXPECT_EQ(cuda.liveAllocations(), 0);
    EXPECT_EQ(hip.liveAllocations(), 0);
  }

  void load(const std::string &bytes, mf_module_t *&module,
            mf_function_t *&scale, mf_function_t *&staged) {
    mf_status_t status =
        mf_module_load_memory(runtime, bytes.data(), bytes.size(), &module);
    ASSERT_EQ(status, nullptr) << mf_status_message(status);
    ASSERT_EQ(mf_module_lookup_function(module, "scale", &scale), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "staged", &staged), nullptr);
  }

  mf_status_t invokeCuda(mf_function_t *function) {
    mf_tensor_t args[] = {vec(cudaBuf[0], kN, MF_DEVICE_CUDA),
                          vec(cudaBuf[1], kN, MF_DEVICE_CUDA)};
    return mf_function_invoke_async(function, args, 2, kStream);
  }

  mf_status_t invokeHip(mf_function_t *function) {
    mf_tensor_t args[] = {vec(hipBuf[0], kN, MF_DEVICE_HIP),
                          vec(hipBuf[1], kN, MF_DEVICE_HIP)};
    return mf_function_invoke_async(function, args, 2, kStream);
  }

  static constexpr int64_t kN = 64;
  FakeCuda &cuda = fakeCuda();
  FakeHip &hip = fakeHip();
  mf_runtime_t *runtime = nullptr;
  mf_module_t *cudaModule = nullptr, *hipModule = nullptr;
  mf_function_t *cudaScale = nullptr, *cudaStaged = nullptr,
                *hipScale = nullptr, *hipStaged = nullptr;
  void *cudaBuf[2] = {}, *hipBuf[2] = {};
};

TEST_F(HipCudaTest, EachModuleLoadsAndUnloadsOnItsOwnBackend) {
  EXPECT_EQ(cuda.count("cuModuleLoadData"), 1);
  EXPECT_EQ(hip.count("hipModuleLoadData"), 1);
  mf_module_release(hipModule);
  hipModule = nullptr;
  EXPECT_EQ(hip.count("hipModuleUnload"), 1);
  EXPECT_EQ(cuda.count("cuModuleUnload"), 0);
  mf_module_release(cudaModule);
  cudaModule = nullptr;
  EXPECT_EQ(cuda.count("cuModuleUnload"), 1);
}

TEST_F(HipCudaTest, EachInvocationDispatchesToItsOwnBackend) {
  expectOk(invokeCuda(cudaStaged));
  EXPECT_EQ(cuda.launchCount(), 1);
  EXPECT_EQ(hip.launchCount(), 0);
  EXPECT_EQ(cuda.count("cuMemAllocAsync"), 1);
  EXPECT_EQ(hip.count("hipMallocAsync"), 0);

  expectOk(invokeHip(hipStaged));
  EXPECT_EQ(cuda.launchCount(), 1);
  EXPECT_EQ(hip.launchCount(), 1);
  for (const char *call : {"hipMallocAsync", "hipMemsetD32Async",
                           "hipEventRecord", "hipMemcpyAsync", "hipFreeAsync"})
    EXPECT_EQ(hip.count(call), 1) << call;
  EXPECT_EQ(cuda.count("cuMemAllocAsync"), 1);
  EXPECT_EQ(cuda.count("cuMemcpyAsync"), 1);

  mf_fake_launch_t cudaLaunch = {};
  mf_fake_hip_launch_t hipLaunch = {};
  ASSERT_EQ(cuda.launch(0, &cudaLaunch), 1);
  ASSERT_EQ(hip.launch(0, &hipLaunch), 1);
  EXPECT_STREQ(cudaLaunch.kernel, "staged_kernel");
  EXPECT_STREQ(hipLaunch.kernel, "staged_kernel");
  EXPECT_EQ(cudaLaunch.params[1], reinterpret_cast<uintptr_t>(cudaBuf[0]));
  EXPECT_EQ(hipLaunch.params[1], reinterpret_cast<uintptr_t>(hipBuf[0]));
}

TEST_F(HipCudaTest, ErrorsStayWithTheirBackend) {
  hip.fail("hipModuleLaunchKernel", 719);
  mf_status_t status = invokeHip(hipScale);
  ASSERT_NE(status, nullptr);
  EXPECT_NE(std::string(mf_status_message(status))
                .find("hipModuleLaunchKernel failed: hipErrorLaunchFailure"),
            std::string::npos)
      << mf_status_message(status);
  mf_status_free(status);
  expectOk(invokeCuda(cudaScale));
  EXPECT_EQ(cuda.launchCount(), 1);
}

TEST_F(HipCudaTest, TensorsOfTheOtherBackendAreRefused) {
  mf_tensor_t args[] = {vec(cudaBuf[0], kN, MF_DEVICE_CUDA),
                        vec(hipBuf[1], kN, MF_DEVICE_HIP)};
  mf_status_t status = mf_function_invoke_async(hipScale, args, 2, kStream);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mf_status_message(status))
                .find("argument 0 'x': device is cuda but this module runs "
                      "on hip"),
            std::string::npos)
      << mf_status_message(status);
  mf_status_free(status);
  // Labelled hip, but CUDA memory: the HIP runtime does not know it.
  args[0].device = MF_DEVICE_HIP;
  status = mf_function_invoke_async(hipScale, args, 2, kStream);
  ASSERT_NE(status, nullptr);
  EXPECT_NE(std::string(mf_status_message(status)).find("is not HIP memory"),
            std::string::npos)
      << mf_status_message(status);
  mf_status_free(status);
  EXPECT_EQ(hip.launchCount(), 0);
}

TEST_F(HipCudaTest, OutsideAnyInvocationCallsGoToCuda) {
  void *stream = mgpuStreamCreate();
  EXPECT_NE(stream, nullptr);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(cuda.count("cuStreamCreate"), 1);
  EXPECT_EQ(hip.count("hipStreamCreateWithFlags"), 0);
}

TEST_F(HipCudaTest, ThreadsOfBothBackendsRunAtOnce) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        mf_status_t status =
            t % 2 ? invokeHip(hipStaged) : invokeCuda(cudaStaged);
        failures[t] += status != nullptr;
        mf_status_free(status);
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
  EXPECT_EQ(cuda.launchCount(), 50);
  EXPECT_EQ(hip.launchCount(), 50);
  EXPECT_EQ(cuda.count("hipMallocAsync") + hip.count("cuMemAllocAsync"), 0);
}

} // namespace
